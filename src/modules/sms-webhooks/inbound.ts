// Workflow: an inbound text from the provider, after its signature has been checked. Two
// transactions on the pool: find the shop of the receiving number (no tenant), then apply
// the text in one transaction on that shop together with remembering its event id, so a
// replay (or a retry after a crash) changes nothing and nothing is lost.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withoutTenant, withShop, type Tx } from '../../db/with-shop.js';
import { recordConsentChange } from '../contacts/consent.js';
import { liveContactIdByPhone } from '../contacts/service.js';
import { suppressPhone, unsuppressPhone } from '../contacts/suppression.js';
import { keywordOf } from './keywords.js';
import { rememberProviderEvent } from './provider-events.js';
import type { InboundMessage, WebhookOutcome } from './schemas.js';

/**
 * An inbound text: STOP (and its variants) unsubscribes, START resubscribes, HELP and
 * anything else is recorded. The shop is the one the receiving number belongs to (or last
 * belonged to: a released number keeps routing replies to its shop). A STOP from a phone
 * that is not a contact goes on the shop's suppression list, so that phone is created
 * unsubscribed later; every STOP does, so it outlives a deleted contact too. A text to a
 * number no shop ever held is kept for operators, never dropped.
 */
export async function applyInboundMessage(db: Db, inbound: InboundMessage): Promise<WebhookOutcome> {
  const keyword = keywordOf(inbound.text);
  const shopId = await withoutTenant(db, async (tx) => {
    const { rows } = await sql<{ shop_id: string | null }>`select app_private.shop_for_sms_number(${inbound.to}) as shop_id`.execute(tx);
    return rows[0]?.shop_id ?? null;
  });
  if (!shopId) {
    const fresh = await withoutTenant(db, async (tx) => {
      const { rows } = await sql<{ fresh: boolean }>`
        select app_private.record_unrouted_inbound(${inbound.eventId}, ${inbound.from}, ${inbound.to}, ${keyword}) as fresh`.execute(tx);
      return rows[0]?.fresh === true;
    });
    return fresh ? 'unrouted' : 'duplicate';
  }
  return withShop(db, shopId, async (tx) => {
    if (!(await rememberProviderEvent(tx, inbound.eventId, 'inbound'))) return 'duplicate';
    const contactId = await liveContactIdByPhone(tx, shopId, inbound.from);
    const contact = contactId ? { id: contactId } : undefined;
    await tx.insertInto('app.inbound_messages').values({ shop_id: shopId, event_id: inbound.eventId, contact_id: contact?.id ?? null, keyword }).execute();
    if (keyword === 'stop') await suppressPhone(tx, shopId, inbound.from);
    if (keyword === 'start') await unsuppressPhone(tx, shopId, inbound.from);
    if (contact && (keyword === 'stop' || keyword === 'start')) {
      await recordConsentChange(tx, {
        shopId,
        contactId: contact.id,
        state: keyword === 'stop' ? 'unsubscribed' : 'subscribed',
        source: 'keyword',
        actor: { kind: 'contact' },
      });
    }
    return 'applied';
  });
}

/** A contact's inbound texts, oldest first (its data request): their keyword and when they came. */
export async function inboundMessagesOfContact(tx: Tx, shopId: string, contactId: string) {
  const rows = await tx
    .selectFrom('app.inbound_messages')
    .select(['keyword', 'received_at'])
    .where('shop_id', '=', shopId)
    .where('contact_id', '=', contactId)
    .orderBy('received_at')
    .execute();
  return rows.map((r) => ({ keyword: r.keyword, receivedAt: new Date(r.received_at).toISOString() }));
}
