// Shopify's mandatory compliance topics that erase: shop/redact and customers/redact, each an
// operation in the shop's transaction (the webhook's job), audited.
//
// shop/redact (sent 48 hours after an uninstall): the shop's personal data goes. Erased:
// every contact's phone, e-mail, names, tags, attributes and time zone, the consent
// evidence's phone and salt, suppressed phones, CSV upload chunks and import error rows,
// stored data-request exports,
// campaign recipients' and messages' links to contacts and provider message ids. Kept,
// because they hold no personal data and money and accountability need them: the credit
// ledger and wallet, the audit log (client addresses only as keyed hashes), campaign rows and
// counts, consent hashes (they verify without the PII), purchases. A shop that was
// reinstalled after the uninstall is not erased (the request is stale).
//
// customers/redact: the contact of this shop linked to the customer id (else with the
// customer's phone) is redacted
// as a deletion redacts them. Another shop's customers are not reachable: the webhook's
// shop is this transaction's shop, and row-level security does the rest.
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { audit } from '../audit/service.js';
import { anonymiseCampaign, campaignsToAnonymise } from '../campaigns/retention.js';
import { eraseAllContacts } from '../contacts/erasure.js';
import { liveContactIdByPhone } from '../contacts/service.js';
import { redactContact } from '../privacy/redact-contact.js';
import { parsePhone } from '../contacts/phone.js';
import { lockContactOfCustomer, shopifyCustomerNumber } from '../contacts/shopify-customer.js';
import { sweepImportsBefore } from '../imports/retention.js';
import { eraseCustomerDataRequests } from '../privacy/customer-data-requests.js';
import { defaultRegionOf } from '../settings/service.js';

export type RedactOutcome = 'applied' | 'not_this_shop' | 'shop_installed';

export async function redactShop(tx: Tx, actor: Actor, payload: Record<string, unknown>): Promise<RedactOutcome> {
  const shopId = actor.shopId;
  const shop = await tx.selectFrom('app.shops').select(['shopify_domain', 'uninstalled_at']).where('id', '=', shopId).forUpdate().executeTakeFirstOrThrow();
  // Only the body is signed: it must name this shop.
  if (payload.shop_domain !== shop.shopify_domain) return 'not_this_shop';
  if (shop.uninstalled_at === null) return 'shop_installed';
  const contacts = await eraseAllContacts(tx, shopId);
  const imports = await sweepImportsBefore(tx, shopId, new Date(Date.now() + 60_000));
  let campaigns = 0;
  for (const campaignId of await campaignsToAnonymise(tx, shopId, new Date(Date.now() + 60_000))) {
    if (await anonymiseCampaign(tx, shopId, campaignId)) campaigns++;
  }
  const dataRequests = await eraseCustomerDataRequests(tx, shopId);
  await tx.updateTable('app.shops').set({ personal_data_erased_at: new Date() }).where('id', '=', shopId).execute();
  await audit(tx, actor, { action: 'shopify.shop_redacted', resourceType: 'shop', resourceId: shopId, result: 'success', metadata: { ...contacts, importChunks: imports.chunks, importErrorRows: imports.errorRows, campaigns, dataRequests } });
  return 'applied';
}

export async function redactCustomer(tx: Tx, actor: Actor, payload: Record<string, unknown>): Promise<RedactOutcome> {
  const shopId = actor.shopId;
  const shop = await tx.selectFrom('app.shops').select('shopify_domain').where('id', '=', shopId).executeTakeFirstOrThrow();
  if (payload.shop_domain !== shop.shopify_domain) return 'not_this_shop';
  const customer = (payload.customer ?? {}) as { id?: unknown; phone?: unknown };
  // By the Shopify customer id first (the link the backfill and webhooks keep), then phone.
  const customerNumber = typeof customer.id === 'number' || typeof customer.id === 'string' ? shopifyCustomerNumber(customer.id) : null;
  let contactId = customerNumber ? ((await lockContactOfCustomer(tx, shopId, customerNumber))?.id ?? null) : null;
  if (!contactId && typeof customer.phone === 'string') {
    const phone = parsePhone(customer.phone, await defaultRegionOf(tx, shopId))?.e164;
    contactId = phone ? await liveContactIdByPhone(tx, shopId, phone) : null;
  }
  if (contactId) await redactContact(tx, actor, contactId);
  await audit(tx, actor, {
    action: 'shopify.customer_redacted',
    resourceType: 'contact',
    ...(contactId ? { resourceId: contactId } : {}),
    result: 'success',
    metadata: { shopifyCustomerId: typeof customer.id === 'number' || typeof customer.id === 'string' ? String(customer.id) : null, contactsRedacted: contactId ? 1 : 0 },
  });
  return 'applied';
}
