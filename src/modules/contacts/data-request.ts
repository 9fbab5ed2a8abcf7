// The GDPR/CCPA data request: everything held about one contact, and the audit row that
// says someone looked (the answer is the person's data, so every request is recorded).
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { audit } from '../audit/service.js';
import { campaignHistoryOfContact } from '../campaigns/reports.js';
import { rowErrorsOfContact } from '../imports/errors.js';
import { consentHistory } from './consent.js';
import { getContact, notFound } from './contact-row.js';

/**
 * Everything held about the contact. Campaign recipients and messages whose personal link
 * the retention job removed (contact_id null) are no longer the contact's and are not listed.
 */
export async function contactDataRequest(tx: Tx, actor: Actor, id: string) {
  const shopId = actor.shopId;
  const contact = await getContact(tx, shopId, id);
  if (!contact) throw notFound();
  const history = await campaignHistoryOfContact(tx, shopId, id);
  const inbound = await tx.selectFrom('app.inbound_messages').select(['keyword', 'received_at']).where('shop_id', '=', shopId).where('contact_id', '=', id).orderBy('received_at').execute();
  const data = {
    contact,
    consentHistory: await consentHistory(tx, shopId, id),
    campaignRecipients: history.campaignRecipients,
    messages: history.messages,
    inboundMessages: inbound.map((i) => ({ keyword: i.keyword, receivedAt: new Date(i.received_at).toISOString() })),
    importErrors: await rowErrorsOfContact(tx, shopId, id),
  };
  await audit(tx, actor, { action: 'contact.data_request', resourceType: 'contact', resourceId: id, result: 'success' });
  return data;
}
