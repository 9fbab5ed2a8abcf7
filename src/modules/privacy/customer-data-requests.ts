// Data requests that arrive for the shop (Shopify's customers/data_request): the export is
// built when the request arrives (what is held then is what the person asked about) and kept
// 30 days for the shop's owners and admins, then deleted (expired rows go whenever a new
// request arrives, and are never listed or served). Receiving and every read are audited.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { AppError } from '../../lib/app-error.js';
import { audit } from '../audit/service.js';
import { liveContactIdByPhone } from '../contacts/service.js';
import { parsePhone } from '../contacts/phone.js';
import { defaultRegionOf } from '../settings/service.js';
import { contactDataRequest } from './data-request.js';
import type { CustomerDataRequest } from './schemas.js';

type Row = { id: string; source: string; external_request_id: string; external_customer_id: string | null; contact_id: string | null; received_at: Date; expires_at: Date };

const view = (r: Row): CustomerDataRequest => ({
  id: r.id,
  source: 'shopify',
  externalRequestId: r.external_request_id,
  externalCustomerId: r.external_customer_id,
  contactFound: r.contact_id !== null,
  receivedAt: new Date(r.received_at).toISOString(),
  expiresAt: new Date(r.expires_at).toISOString(),
});

export async function recordCustomerDataRequest(
  tx: Tx,
  actor: Actor,
  input: { externalRequestId: string; externalCustomerId: string | null; phone: string | null },
): Promise<'recorded' | 'duplicate'> {
  const shopId = actor.shopId;
  await tx.deleteFrom('app.customer_data_requests').where('shop_id', '=', shopId).where('expires_at', '<', sql<Date>`now()`).execute();
  const known = await tx.selectFrom('app.customer_data_requests').select('id').where('shop_id', '=', shopId).where('source', '=', 'shopify').where('external_request_id', '=', input.externalRequestId).executeTakeFirst();
  if (known) return 'duplicate';
  const region = await defaultRegionOf(tx, shopId);
  const phone = input.phone ? parsePhone(input.phone, region)?.e164 : undefined;
  const contactId = phone ? await liveContactIdByPhone(tx, shopId, phone) : null;
  const data = contactId ? await contactDataRequest(tx, actor, contactId) : null;
  const row = await tx
    .insertInto('app.customer_data_requests')
    .values({ shop_id: shopId, source: 'shopify', external_request_id: input.externalRequestId, external_customer_id: input.externalCustomerId, contact_id: contactId, export: data === null ? null : JSON.stringify(data) })
    .returning('id')
    .executeTakeFirstOrThrow();
  await audit(tx, actor, { action: 'privacy.data_request_received', resourceType: 'customer_data_request', resourceId: row.id, result: 'success', metadata: { source: 'shopify', contactFound: contactId !== null } });
  return 'recorded';
}

export async function listCustomerDataRequests(tx: Tx, shopId: string): Promise<CustomerDataRequest[]> {
  const rows = await tx
    .selectFrom('app.customer_data_requests')
    .select(['id', 'source', 'external_request_id', 'external_customer_id', 'contact_id', 'received_at', 'expires_at'])
    .where('shop_id', '=', shopId)
    .where('expires_at', '>', sql<Date>`now()`)
    .orderBy('received_at', 'desc')
    .limit(200)
    .execute();
  return rows.map(view);
}

/** The export; reading it is audited (it is a person's data). */
export async function readCustomerDataRequest(tx: Tx, actor: Actor, id: string) {
  const row = await tx
    .selectFrom('app.customer_data_requests')
    .selectAll()
    .where('shop_id', '=', actor.shopId)
    .where('id', '=', id)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
  if (!row) throw new AppError(404, 'NOT_FOUND', 'No such data request');
  await audit(tx, actor, { action: 'privacy.data_request_read', resourceType: 'customer_data_request', resourceId: id, result: 'success' });
  return { request: view(row), data: (row.export as Record<string, unknown> | null) ?? null };
}

/** shop/redact: every stored export goes (they are people's data). */
export async function eraseCustomerDataRequests(tx: Tx, shopId: string): Promise<number> {
  const result = await tx.deleteFrom('app.customer_data_requests').where('shop_id', '=', shopId).executeTakeFirst();
  return Number(result.numDeletedRows);
}
