-- Credit packages: what a shop can buy, priced on the server. A purchase names a package
-- id and nothing else, so a client can never choose its own price or credit count (seed
-- 003, task 3). Global (not tenant data): readable by the run-time roles, written only by
-- migrations and the operator command `npm run billing:packages` (which runs as the owner).
create table app.credit_packages (
  id text primary key check (id ~ '^[a-z0-9][a-z0-9_-]{0,39}$'),
  name text not null check (length(name) between 1 and 100),
  credits integer not null check (credits > 0),
  -- The price in the currency's minor unit (cents), as Stripe takes it.
  amount_minor bigint not null check (amount_minor > 0 and amount_minor <= 100000000),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  active boolean not null default true,
  sort_order integer not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
alter table app.credit_packages enable row level security;
alter table app.credit_packages force row level security;
create policy credit_packages_read on app.credit_packages for select to pigeon_api, pigeon_worker using (true);
create policy credit_packages_owner on app.credit_packages for all to pigeon_owner using (true) with check (true);
grant select on app.credit_packages to pigeon_api, pigeon_worker;

insert into app.credit_packages (id, name, credits, amount_minor, currency, sort_order) values
  ('starter', '1,000 credits', 1000, 1500, 'usd', 10),
  ('growth', '5,000 credits', 5000, 6500, 'usd', 20),
  ('scale', '25,000 credits', 25000, 27500, 'usd', 30);
