-- Sending holds: pauses that the shop itself cannot lift. The kill switch
-- (shop_settings.sending_paused) is the shop's own; a refund that took back credits
-- already spent, or a payment dispute, pauses sending until an operator (or, for a
-- dispute, its outcome) decides. Each hold is a named reason ('billing:dispute:<id>',
-- 'billing:refund_shortfall:<purchase id>'); sending waits while any is present.
-- Written by the worker (Stripe events are applied by jobs) and by the API (a confirm
-- applies the same settlement); no route lets a shop write it.
alter table app.shop_settings add column sending_holds text[] not null default '{}'
  check (cardinality(sending_holds) <= 50);
grant update (sending_holds) on app.shop_settings to pigeon_api, pigeon_worker;
