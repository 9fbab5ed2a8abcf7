-- Data requests that arrive for a shop (Shopify's mandatory customers/data_request): the
-- export of what Pigeon holds about the customer is assembled when the request arrives and
-- kept for the shop's owners and admins to fetch (GET /api/v1/privacy/data-requests) for 30
-- days, then deleted. One row per request (Shopify's data_request id): a redelivery stores
-- nothing twice.
create table app.customer_data_requests (
  shop_id uuid not null references app.shops (id) on delete cascade,
  id uuid not null default gen_random_uuid(),
  source text not null check (source in ('shopify')),
  external_request_id text not null check (length(external_request_id) between 1 and 100),
  external_customer_id text check (length(external_customer_id) <= 100),
  contact_id uuid,
  -- The export (the same document as GET /api/v1/contacts/:id/data); null when no contact matched.
  export jsonb check (export is null or pg_column_size(export) <= 4194304),
  received_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '30 days',
  primary key (shop_id, id),
  unique (shop_id, source, external_request_id)
);
create index customer_data_requests_shop_received_idx on app.customer_data_requests (shop_id, received_at desc);
alter table app.customer_data_requests enable row level security;
alter table app.customer_data_requests force row level security;
create policy customer_data_requests_current on app.customer_data_requests for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select on app.customer_data_requests to pigeon_api;
grant select, insert (shop_id, source, external_request_id, external_customer_id, contact_id, export), delete on app.customer_data_requests to pigeon_worker;
