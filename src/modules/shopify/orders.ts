// Shopify's orders/create, in the shop's transaction (the webhook's job): the order is kept
// for reporting (app.shopify_orders: id, total, currency, time, the contact), and the
// contact (by customer id, then phone) gets its last_ordered_at moved forward, which is what
// the segment condition on the last order reads. A redelivered or repeated order is stored
// once (its id is the key); orders arriving out of order never move last_ordered_at back.
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { minorUnits } from '../../lib/money.js';
import { recordContactOrder, shopifyCustomerNumber } from '../contacts/shopify-customer.js';
import { parsePhone } from '../contacts/phone.js';
import { defaultRegionOf } from '../settings/service.js';

export async function applyOrderWebhook(tx: Tx, actor: Actor, payload: Record<string, unknown>): Promise<{ applied: boolean; note: string | null }> {
  const shopId = actor.shopId;
  const orderId = typeof payload.id === 'number' || typeof payload.id === 'string' ? String(payload.id) : '';
  if (!/^[1-9][0-9]{0,18}$/.test(orderId)) return { applied: false, note: 'invalid order id' };
  const orderedAtText = typeof payload.processed_at === 'string' ? payload.processed_at : typeof payload.created_at === 'string' ? payload.created_at : null;
  const orderedAt = orderedAtText ? new Date(orderedAtText) : null;
  if (!orderedAt || Number.isNaN(orderedAt.getTime())) return { applied: false, note: 'no order time' };
  const customer = (payload.customer ?? {}) as { id?: unknown; phone?: unknown };
  const customerNumber = typeof customer.id === 'number' || typeof customer.id === 'string' ? shopifyCustomerNumber(customer.id) : null;
  const rawPhone = typeof customer.phone === 'string' ? customer.phone : typeof payload.phone === 'string' ? payload.phone : null;
  const phone = rawPhone ? (parsePhone(rawPhone, await defaultRegionOf(tx, shopId))?.e164 ?? null) : null;
  const contactId = await recordContactOrder(tx, shopId, { customerNumber, phone }, orderedAt);
  const currency = typeof payload.currency === 'string' && /^[A-Za-z]{3}$/.test(payload.currency) ? payload.currency.toLowerCase() : null;
  const total = typeof payload.total_price === 'string' && currency ? minorUnits(payload.total_price, currency) : null;
  await tx
    .insertInto('app.shopify_orders')
    .values({ shop_id: shopId, order_id: orderId, contact_id: contactId, total_minor: total, currency, ordered_at: orderedAt })
    .onConflict((oc) => oc.columns(['shop_id', 'order_id']).doNothing())
    .execute();
  return { applied: true, note: contactId ? null : 'no contact matches the order’s customer' };
}
