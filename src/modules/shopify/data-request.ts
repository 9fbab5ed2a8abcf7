// Shopify's customers/data_request (a mandatory compliance topic): the customer's export is
// built and kept for the shop's owners by the privacy module; the body must name this shop
// (only the body is signed).
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { recordCustomerDataRequest } from '../privacy/customer-data-requests.js';

export async function receiveDataRequest(tx: Tx, actor: Actor, payload: Record<string, unknown>): Promise<'applied' | 'not_this_shop' | 'malformed'> {
  const shop = await tx.selectFrom('app.shops').select('shopify_domain').where('id', '=', actor.shopId).executeTakeFirstOrThrow();
  if (payload.shop_domain !== shop.shopify_domain) return 'not_this_shop';
  const request = (payload.data_request ?? {}) as { id?: unknown };
  const customer = (payload.customer ?? {}) as { id?: unknown; phone?: unknown };
  const requestId = typeof request.id === 'number' || typeof request.id === 'string' ? String(request.id).slice(0, 100) : null;
  if (!requestId) return 'malformed';
  await recordCustomerDataRequest(tx, actor, {
    externalRequestId: requestId,
    externalCustomerId: typeof customer.id === 'number' || typeof customer.id === 'string' ? String(customer.id).slice(0, 100) : null,
    phone: typeof customer.phone === 'string' ? customer.phone : null,
  });
  return 'applied';
}
