-- Identity: lockout state on users, sessions (one per sign-in, each a refresh-token
-- family), refresh tokens (only their SHA-256 is stored), and a notification outbox.
-- Sessions and refresh tokens belong to a user, not a shop: guarded by app.user_id.

alter table app.users
  add column failed_login_count integer not null default 0 check (failed_login_count between 0 and 1000000),
  add column locked_until timestamptz,
  add column password_changed_at timestamptz;
grant update (failed_login_count, locked_until, password_changed_at), insert (password_changed_at) on app.users to pigeon_api;

create table app.sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references app.users (id) on delete cascade,
  -- The shop the session acts in; switching shops moves it. Not a tenant column: the row
  -- belongs to the user.
  active_shop_id uuid references app.shops (id) on delete set null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_reason text check (length(revoked_reason) <= 64),
  user_agent_hash text check (length(user_agent_hash) <= 128),
  ip_hash text check (length(ip_hash) <= 128)
);
create index sessions_user_idx on app.sessions (user_id, created_at);
alter table app.sessions enable row level security;
alter table app.sessions force row level security;
create policy sessions_own on app.sessions for all to pigeon_api
  using (user_id = (select app.current_user_id()))
  with check (user_id = (select app.current_user_id()));
grant select,
  insert (id, user_id, active_shop_id, expires_at, user_agent_hash, ip_hash),
  update (active_shop_id, last_used_at, revoked_at, revoked_reason, user_agent_hash, ip_hash)
  on app.sessions to pigeon_api;

create table app.refresh_tokens (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null references app.sessions (id) on delete cascade,
  user_id uuid not null references app.users (id) on delete cascade,
  token_hash bytea not null unique check (length(token_hash) = 32),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  -- Set when the token is exchanged; presenting it again is reuse.
  rotated_at timestamptz
);
create index refresh_tokens_session_idx on app.refresh_tokens (session_id);
create index refresh_tokens_user_idx on app.refresh_tokens (user_id);
alter table app.refresh_tokens enable row level security;
alter table app.refresh_tokens force row level security;
create policy refresh_tokens_own on app.refresh_tokens for all to pigeon_api
  using (user_id = (select app.current_user_id()))
  with check (user_id = (select app.current_user_id()));
grant select, insert (id, session_id, user_id, token_hash, expires_at), update (rotated_at) on app.refresh_tokens to pigeon_api;

-- Messages to send (lockout notices, ...). Sending e-mail is out of scope: this is the interface.
create table app.notification_outbox (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references app.users (id) on delete cascade,
  kind text not null check (kind ~ '^[a-z][a-z0-9_.]{1,63}$'),
  payload jsonb not null default '{}' check (pg_column_size(payload) <= 8192),
  created_at timestamptz not null default now(),
  sent_at timestamptz
);
create index notification_outbox_user_idx on app.notification_outbox (user_id, created_at);
alter table app.notification_outbox enable row level security;
alter table app.notification_outbox force row level security;
create policy notification_outbox_own on app.notification_outbox for all to pigeon_api, pigeon_worker
  using (user_id = (select app.current_user_id()))
  with check (user_id = (select app.current_user_id()));
grant select, insert (user_id, kind, payload) on app.notification_outbox to pigeon_api;
grant select, update (sent_at) on app.notification_outbox to pigeon_worker;

-- The cross-user reads that must exist before anyone is authenticated. Each does one thing.
create policy users_login_lookup on app.users for select to pigeon_owner using (true);
create policy sessions_owner_read on app.sessions for select to pigeon_owner using (true);
create policy refresh_tokens_owner_read on app.refresh_tokens for select to pigeon_owner using (true);
create policy memberships_owner_read on app.memberships for select to pigeon_owner using (true);

-- Login: the account for an e-mail address (case-insensitive), or nothing.
create function app_private.user_for_login(p_email text)
  returns table (id uuid, password_hash text, locked_until timestamptz)
  language sql stable security definer
  set search_path = ''
  as $$ select u.id, u.password_hash, u.locked_until from app.users u where u.email = p_email::public.citext $$;

-- Refresh: whose token this hash is (the caller then acts as that user under RLS).
create function app_private.refresh_token_owner(p_token_hash bytea)
  returns table (user_id uuid, session_id uuid)
  language sql stable security definer
  set search_path = ''
  as $$ select t.user_id, t.session_id from app.refresh_tokens t where t.token_hash = p_token_hash $$;

-- Every authenticated request: is this session live, and what is the user's role in the
-- token's shop right now? One indexed lookup; null when the session is revoked or expired
-- or the membership is gone.
create function app_private.session_role(p_session_id uuid, p_user_id uuid, p_shop_id uuid)
  returns text
  language sql stable security definer
  set search_path = ''
  as $$
    select m.role::text
      from app.sessions s
      join app.memberships m on m.user_id = s.user_id and m.shop_id = p_shop_id
     where s.id = p_session_id and s.user_id = p_user_id
       and s.revoked_at is null and s.expires_at > now()
  $$;

revoke all on function app_private.user_for_login(text), app_private.refresh_token_owner(bytea),
  app_private.session_role(uuid, uuid, uuid) from public;
grant execute on function app_private.user_for_login(text), app_private.refresh_token_owner(bytea),
  app_private.session_role(uuid, uuid, uuid) to pigeon_api;
