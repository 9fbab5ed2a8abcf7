-- Shopify's customers/* and orders/create webhooks. Shopify does not order deliveries: a
-- contact keeps the `updated_at` of the last customer payload applied to it, and an older
-- one changes nothing (consent has its own, finer rule: its consent time). Orders are kept
-- per shop for reporting (id, total, currency, time: no personal data beyond the link to
-- the contact), and an order moves the contact's last_ordered_at forward only.
alter table app.contacts add column shopify_updated_at timestamptz;
grant update (shopify_updated_at) on app.contacts to pigeon_api, pigeon_worker;

create table app.shopify_orders (
  shop_id uuid not null references app.shops (id) on delete cascade,
  order_id bigint not null check (order_id > 0),
  contact_id uuid,
  total_minor bigint check (total_minor >= 0),
  currency text check (currency ~ '^[a-z]{3}$'),
  ordered_at timestamptz not null,
  created_at timestamptz not null default now(),
  primary key (shop_id, order_id),
  foreign key (shop_id, contact_id) references app.contacts (shop_id, id)
);
create index shopify_orders_shop_contact_idx on app.shopify_orders (shop_id, contact_id);
alter table app.shopify_orders enable row level security;
alter table app.shopify_orders force row level security;
create policy shopify_orders_current on app.shopify_orders for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select on app.shopify_orders to pigeon_api;
grant select, insert (shop_id, order_id, contact_id, total_minor, currency, ordered_at), update (contact_id), delete on app.shopify_orders to pigeon_worker;
