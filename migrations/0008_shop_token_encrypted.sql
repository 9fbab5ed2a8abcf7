-- The shop's Shopify access token, stored only as key-ring ciphertext
-- ('v1.<kid>.<iv>.<ciphertext>.<tag>', AES-256-GCM, bound to the shop by its AAD).
alter table app.shops
  add column shopify_access_token text check (shopify_access_token ~ '^v1\.[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+$');
grant update (shopify_access_token) on app.shops to pigeon_api;
-- Key rotation runs as the worker role, shop by shop inside withShop (shops_current
-- already covers pigeon_worker with USING and WITH CHECK).
grant update (shopify_access_token) on app.shops to pigeon_worker;
