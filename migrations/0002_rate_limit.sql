-- Rate limiting: one counter row per key (an IP, a shop, or a route's key), shared by every
-- API instance. Runs as pigeon_owner.
--
-- UNLOGGED: counters are worth nothing after a crash (the table is emptied then, which
-- only forgives a window), and skipping the WAL keeps a hit cheap.
-- No run-time role gets any privilege on the table: the API reaches it only through
-- rate_limit_hit (one statement per request) and the worker only through the sweep. RLS is
-- enabled with no policy so that even a future grant by mistake would read nothing; it is
-- not forced, because the owner (running the security definer functions) is the only one
-- meant to see the rows, and the table has no shop_id to write a policy on.
create unlogged table app.rate_limit_hits (
  key text primary key check (length(key) <= 200),
  hits integer not null check (hits > 0),
  expires_at timestamptz not null
);
-- The sweep deletes by expiry.
create index rate_limit_hits_expires_at_idx on app.rate_limit_hits (expires_at);
alter table app.rate_limit_hits enable row level security;
revoke all on app.rate_limit_hits from public;

-- Counts one hit on p_key in a fixed window of p_window_ms, starting a new window when the
-- current one has expired, and returns the count and the window's end. One statement, so
-- concurrent hits on the same key serialize on the row and none is lost.
create function app_private.rate_limit_hit(p_key text, p_window_ms integer)
  returns table (hits integer, expires_at timestamptz)
  language sql volatile security definer
  set search_path = ''
  as $$
    insert into app.rate_limit_hits as h (key, hits, expires_at)
    values (p_key, 1, now() + make_interval(secs => greatest(p_window_ms, 1) / 1000.0))
    on conflict (key) do update set
      hits = case
        when h.expires_at <= now() then 1
        -- Saturate instead of overflowing: a key this hot is refused either way.
        else least(h.hits, 2147483646) + 1
      end,
      expires_at = case
        when h.expires_at <= now() then now() + make_interval(secs => greatest(p_window_ms, 1) / 1000.0)
        else h.expires_at
      end
    returning h.hits, h.expires_at
  $$;
revoke all on function app_private.rate_limit_hit(text, integer) from public;
grant execute on function app_private.rate_limit_hit(text, integer) to pigeon_api, pigeon_worker;

-- Deletes the rows whose window has ended; returns how many. Run by cron (tasks/crontab).
create function app_private.rate_limit_sweep() returns integer
  language plpgsql volatile security definer
  set search_path = ''
  as $$
declare
  v_count integer;
begin
  delete from app.rate_limit_hits where expires_at <= now();
  get diagnostics v_count = row_count;
  return v_count;
end
$$;
revoke all on function app_private.rate_limit_sweep() from public;
grant execute on function app_private.rate_limit_sweep() to pigeon_worker;
