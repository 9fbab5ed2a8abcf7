-- Message templates: one global catalogue (every shop reads it, no run-time role writes
-- it; new templates arrive by migration), and per-shop usage under RLS.
create table app.templates (
  id uuid primary key,
  name text not null unique check (length(name) between 1 and 100),
  category text not null check (category ~ '^[a-z][a-z_]{1,40}$'),
  body text not null check (length(body) between 1 and 1600),
  created_at timestamptz not null default now()
);
alter table app.templates enable row level security;
alter table app.templates force row level security;
create policy templates_read on app.templates for select to pigeon_api, pigeon_worker using (true);
grant select on app.templates to pigeon_api, pigeon_worker;
-- Migrations (run as the owner) maintain the catalogue.
create policy templates_catalogue on app.templates for all to pigeon_owner using (true) with check (true);

insert into app.templates (id, name, category, body) values
  ('6c1f0a52-4f0e-4a43-9d0e-2a1f1d7c0001', 'Welcome', 'welcome', 'Hi {{first_name|there}}, welcome to {{shop_name}}! Here is 10% off your first order: {{discount_code}}. {{unsubscribe}}'),
  ('6c1f0a52-4f0e-4a43-9d0e-2a1f1d7c0002', 'Flash sale', 'promotion', '{{shop_name}}: flash sale, 24 hours only! Use {{discount_code}} at checkout. {{unsubscribe}}'),
  ('6c1f0a52-4f0e-4a43-9d0e-2a1f1d7c0003', 'Back in stock', 'restock', 'Good news {{first_name|}}: your favourites are back in stock at {{shop_name}}. {{unsubscribe}}'),
  ('6c1f0a52-4f0e-4a43-9d0e-2a1f1d7c0004', 'Abandoned cart', 'cart_recovery', 'Hi {{first_name|there}}, you left something in your cart at {{shop_name}}. Complete your order with {{discount_code}}. {{unsubscribe}}'),
  ('6c1f0a52-4f0e-4a43-9d0e-2a1f1d7c0005', 'Thank you', 'loyalty', 'Thank you for shopping at {{shop_name}}, {{first_name|friend}}! {{unsubscribe}}');

create table app.template_usage (
  shop_id uuid not null references app.shops (id) on delete cascade,
  -- The catalogue is global: this key cannot include shop_id (allowlisted in the RLS report).
  template_id uuid not null references app.templates (id),
  uses integer not null default 0 check (uses >= 0),
  last_used_at timestamptz,
  primary key (shop_id, template_id)
);
alter table app.template_usage enable row level security;
alter table app.template_usage force row level security;
create policy template_usage_current on app.template_usage for all to pigeon_api, pigeon_worker
  using (shop_id = (select app.current_shop_id()))
  with check (shop_id = (select app.current_shop_id()));
grant select, insert (shop_id, template_id, uses, last_used_at), update (uses, last_used_at) on app.template_usage to pigeon_api;
