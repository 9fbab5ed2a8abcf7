-- Staff invitations, and the two ways Shopify brings people and shops in: the OAuth install
-- (creates the shop) and the session-token exchange (signs a Shopify staff user in).

------------------------------------------------------------------------------
-- Invitations. Adding someone to a shop never depends on whether their e-mail address
-- already has an account (that would tell an admin who uses Pigeon): the invitation is
-- created the same way for everyone and the invitee accepts it signed in as the account
-- the invitation names. The row doubles as the mailer's outbox (sent_at): the token is
-- kept encrypted for the mailer (key ring, bound to the row), and only its SHA-256 is used
-- for lookup.
create table app.member_invitations (
  shop_id uuid not null references app.shops (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  email citext not null check (length(email) between 3 and 320),
  role app.member_role not null,
  token_hash bytea not null check (length(token_hash) = 32),
  token_ciphertext text not null check (length(token_ciphertext) <= 512),
  -- Who invited and who accepted: plain ids (the audit log holds the evidence), so that a
  -- deleted account does not take its invitations with it.
  invited_by uuid,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  sent_at timestamptz,
  accepted_at timestamptz,
  accepted_by uuid,
  revoked_at timestamptz,
  primary key (shop_id, id),
  unique (shop_id, token_hash)
);
create index member_invitations_token_idx on app.member_invitations (token_hash);
alter table app.member_invitations enable row level security;
alter table app.member_invitations force row level security;
create policy member_invitations_current on app.member_invitations for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select,
  insert (shop_id, id, email, role, token_hash, token_ciphertext, invited_by, expires_at),
  update (accepted_at, accepted_by, revoked_at)
  on app.member_invitations to pigeon_api;
grant select, update (sent_at) on app.member_invitations to pigeon_worker;

create policy member_invitations_owner_read on app.member_invitations for select to pigeon_owner using (true);

-- Accept: which shop a live invitation token belongs to. Nothing else leaves the function;
-- the caller then acts in that shop and checks the rest under RLS.
create function app_private.invitation_for_token(p_token_hash bytea)
  returns table (shop_id uuid, id uuid)
  language sql stable security definer
  set search_path = ''
  as $$
    select i.shop_id, i.id from app.member_invitations i
     where i.token_hash = p_token_hash
       and i.accepted_at is null and i.revoked_at is null and i.expires_at > now()
  $$;
revoke all on function app_private.invitation_for_token(bytea) from public;
grant execute on function app_private.invitation_for_token(bytea) to pigeon_api;

------------------------------------------------------------------------------
-- Shopify staff. A session token names a Shopify staff user (`sub`) of a shop; the first
-- exchange creates a Pigeon user for them (no password, no e-mail: Shopify vouches for
-- them) and a membership. Keyed by membership, so removing the member removes the link.
alter table app.users alter column email drop not null;

create table app.shopify_staff (
  shop_id uuid not null,
  shopify_user_id text not null check (shopify_user_id ~ '^[0-9]{1,20}$'),
  user_id uuid not null,
  created_at timestamptz not null default now(),
  primary key (shop_id, shopify_user_id),
  unique (shop_id, user_id),
  foreign key (shop_id, user_id) references app.memberships (shop_id, user_id) on delete cascade
);
alter table app.shopify_staff enable row level security;
alter table app.shopify_staff force row level security;
create policy shopify_staff_current on app.shopify_staff for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, insert (shop_id, shopify_user_id, user_id) on app.shopify_staff to pigeon_api;

------------------------------------------------------------------------------
-- OAuth install state. Not tenant data (the shop may not exist yet), and no run-time
-- role touches the table: two functions create and consume states. Only the SHA-256 of
-- the state is stored; a state is good once, for one shop, for a few minutes.
create table app.shopify_oauth_states (
  state_hash bytea primary key check (length(state_hash) = 32),
  shop_domain text not null check (shop_domain ~ '^[a-z0-9][a-z0-9-]*\.myshopify\.com$'),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null
);
create index shopify_oauth_states_expires_idx on app.shopify_oauth_states (expires_at);
alter table app.shopify_oauth_states enable row level security;
alter table app.shopify_oauth_states force row level security;
create policy shopify_oauth_states_owner on app.shopify_oauth_states for all to pigeon_owner using (true) with check (true);

create function app_private.create_shopify_oauth_state(p_state_hash bytea, p_shop_domain text, p_ttl_seconds integer)
  returns void
  language sql volatile security definer
  set search_path = ''
  as $$
    -- Expired states go as new ones come: the table stays as small as the traffic.
    delete from app.shopify_oauth_states where expires_at < now() - interval '1 hour';
    insert into app.shopify_oauth_states (state_hash, shop_domain, expires_at)
    values (p_state_hash, p_shop_domain, now() + make_interval(secs => least(greatest(p_ttl_seconds, 1), 3600)));
  $$;

-- True once for a live state issued for this shop; the state is gone afterwards whatever
-- the answer, so a refused state cannot be tried again with another shop.
create function app_private.consume_shopify_oauth_state(p_state_hash bytea, p_shop_domain text)
  returns boolean
  language sql volatile security definer
  set search_path = ''
  as $$
    with gone as (delete from app.shopify_oauth_states where state_hash = p_state_hash returning shop_domain, expires_at)
    select coalesce((select shop_domain = p_shop_domain and expires_at > now() from gone), false)
  $$;

-- The shop id for a myshopify domain, or nothing: the callback (reinstall) and the
-- session-token exchange need it before they can act in the shop. (The owner already
-- reads shops through shops_maintenance_read, 0003.)
create function app_private.shop_id_for_shopify_domain(p_shop_domain text)
  returns uuid
  language sql stable security definer
  set search_path = ''
  as $$ select s.id from app.shops s where s.shopify_domain = p_shop_domain $$;

revoke all on function app_private.create_shopify_oauth_state(bytea, text, integer),
  app_private.consume_shopify_oauth_state(bytea, text),
  app_private.shop_id_for_shopify_domain(text) from public;
grant execute on function app_private.create_shopify_oauth_state(bytea, text, integer),
  app_private.consume_shopify_oauth_state(bytea, text),
  app_private.shop_id_for_shopify_domain(text) to pigeon_api;
