// The GDPR/CCPA data request: everything held about one contact, assembled from the modules
// that own it (contacts, campaigns, imports, sms-webhooks), and the audit row that says
// someone looked (the answer is the person's data, so every request is recorded). Its own
// module because it reads across those domains: sms-webhooks already imports contacts, so
// the assembly cannot live in contacts without an import loop.
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { audit } from '../audit/service.js';
import { campaignHistoryOfContact } from '../campaigns/reports.js';
import { consentHistory } from '../contacts/consent.js';
import { getContact, notFound } from '../contacts/contact-row.js';
import { rowErrorsOfContact } from '../imports/errors.js';
import { inboundMessagesOfContact } from '../sms-webhooks/inbound.js';

/**
 * Everything held about the contact, in the actor's shop: a user through the API, or the
 * system (`systemActor(shopId)`, e.g. a Shopify `customers/data_request` webhook), whose
 * audit row then names no user. 404 `NOT_FOUND` for a contact the shop does not have.
 * Campaign recipients and messages whose personal link the retention job removed
 * (contact_id null) are no longer the contact's and are not listed.
 */
export async function contactDataRequest(tx: Tx, actor: Actor, contactId: string) {
  const shopId = actor.shopId;
  const contact = await getContact(tx, shopId, contactId);
  if (!contact) throw notFound();
  const history = await campaignHistoryOfContact(tx, shopId, contactId);
  const data = {
    contact,
    consentHistory: await consentHistory(tx, shopId, contactId),
    campaignRecipients: history.campaignRecipients,
    messages: history.messages,
    inboundMessages: await inboundMessagesOfContact(tx, shopId, contactId),
    importErrors: await rowErrorsOfContact(tx, shopId, contactId),
  };
  await audit(tx, actor, { action: 'contact.data_request', resourceType: 'contact', resourceId: contactId, result: 'success' });
  return data;
}
