-- Credits bought through Shopify's Billing API (apps in the Shopify App Store must charge
-- through it): a purchase of a shop installed from Shopify is an AppPurchaseOneTime, whose
-- id Pigeon stores when it creates it. Crediting compares what Shopify reports (read back
-- from the Admin API, never taken from the webhook alone) with this stored id, price and
-- currency, through the same ledger entry keyed by the purchase id as a Stripe payment.
alter table app.credit_purchases add column shopify_purchase_id text
  check (shopify_purchase_id ~ '^gid://shopify/AppPurchaseOneTime/[0-9]{1,20}$');
alter table app.credit_purchases add constraint credit_purchases_shop_shopify_purchase_key unique (shop_id, shopify_purchase_id);
grant update (shopify_purchase_id) on app.credit_purchases to pigeon_api, pigeon_worker;

-- The reconciler now asks about pending purchases of both providers.
create or replace function app_private.stale_pending_purchases(p_older_than timestamptz, p_limit integer)
  returns table (shop_id uuid, purchase_id uuid)
  language sql stable security definer
  set search_path = ''
  as $$
    select p.shop_id, p.id from app.credit_purchases p
     where p.status = 'pending' and p.created_at < p_older_than
     order by p.created_at
     limit p_limit
  $$;
