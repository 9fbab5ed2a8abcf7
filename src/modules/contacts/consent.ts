// Consent changes. Every change appends a link to the contact's chain (consent-chain.ts)
// and moves the contact's state, in the caller's transaction, under a lock on the contact.
// The one rule with teeth: an import never turns an unsubscribed contact into a
// subscribed one; only an explicit opt-in (api, admin, keyword, shopify) can.
// The other direction of the Shopify consent sync lives here too, in insertConsentLinks (the
// one statement every consent change goes through): a change of a contact linked to a
// Shopify customer that did not come from Shopify adds the shopify_consent_push job in the
// same transaction (modules/shopify/consent-push.ts pushes the contact's state then).
import { sql } from 'kysely';
import type { ConsentSource, ConsentState, ShopifyOptInLevel } from '../../db/database.js';
import type { Tx } from '../../db/with-shop.js';
import { addShopJob } from '../../jobs/catalogue.js';
import type { Actor } from '../../lib/actor.js';
import { genesisHash, linkHash, newSalt, piiDigest } from './consent-chain.js';
import { getContact, notFound } from './contact-row.js';
import type { ConsentEvent } from './schemas.js';

export type ConsentActor = { kind: 'user'; id: string } | { kind: 'system' } | { kind: 'contact' } | { kind: 'shopify' };

/** Who a link names when an operation's actor changes consent: the user, or the system for a job. */
export function consentActorOf(actor: Actor): ConsentActor {
  return actor.userId ? { kind: 'user', id: actor.userId } : { kind: 'system' };
}

export interface ConsentChange {
  shopId: string;
  contactId: string;
  state: ConsentState;
  source: ConsentSource;
  actor: ConsentActor;
}

export type ConsentOutcome = 'changed' | 'unchanged' | 'refused' | 'not_found';

/** May `source` move a contact from `current` to `next`? */
export function consentChangeAllowed(current: ConsentState, next: ConsentState, source: ConsentSource): boolean {
  return !(source === 'import' && current === 'unsubscribed' && next === 'subscribed');
}

/**
 * A consent that carries its own time (Shopify's consentUpdatedAt) applies only when it is
 * newer than the contact's last consent change in Pigeon (`consent_updated_at`), so an
 * older Shopify "subscribed" never undoes a newer STOP and an older "unsubscribed" never
 * undoes a newer opt-in. A contact that never decided ('never') takes it whatever its time;
 * one without a time applies only to such a contact.
 */
export function consentIsNewer(current: ConsentState, currentAt: Date | null, at: Date | null): boolean {
  if (current === 'never') return true;
  if (!at) return false;
  return !currentAt || at.getTime() > new Date(currentAt).getTime();
}

interface Head {
  seq: number;
  hash: Buffer;
}

/** The row to insert for the next link after `head` (null head: the first link). */
export function buildLink(
  input: {
    shopId: string;
    contactId: string;
    state: ConsentState;
    previousState: ConsentState | null;
    source: ConsentSource;
    actor: ConsentActor;
    phone: string;
    /** Shopify's opt-in level: stored with the link, outside its hash (migration 0150). */
    optInLevel?: ShopifyOptInLevel | null;
  },
  head: Head | null,
  occurredAt = new Date(),
) {
  const salt = newSalt();
  const digest = piiDigest(salt, input.phone);
  const seq = (head?.seq ?? 0) + 1;
  const prevHash = head?.hash ?? genesisHash(input.shopId, input.contactId);
  const actorId = input.actor.kind === 'user' ? input.actor.id : null;
  const hash = linkHash({
    shopId: input.shopId,
    contactId: input.contactId,
    seq,
    state: input.state,
    previousState: input.previousState,
    source: input.source,
    actorKind: input.actor.kind,
    actorId,
    occurredAt,
    piiDigest: digest,
    prevHash,
  });
  return {
    shop_id: input.shopId,
    contact_id: input.contactId,
    seq,
    state: input.state,
    previous_state: input.previousState,
    source: input.source,
    actor_kind: input.actor.kind,
    actor_id: actorId,
    occurred_at: occurredAt,
    pii_digest: digest,
    pii_salt: salt,
    pii_phone: input.phone,
    prev_hash: prevHash,
    hash,
    opt_in_level: input.optInLevel ?? null,
  };
}

export async function chainHead(tx: Tx, shopId: string, contactId: string): Promise<Head | null> {
  const row = await tx
    .selectFrom('app.consent_events')
    .select(['seq', 'hash'])
    .where('shop_id', '=', shopId)
    .where('contact_id', '=', contactId)
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ?? null;
}

/** The first link of a new contact (its initial state, even 'never'). */
export async function recordInitialConsent(tx: Tx, change: ConsentChange & { phone: string }): Promise<void> {
  await insertConsentLinks(tx, [buildLink({ ...change, previousState: null }, null)]);
}

export async function recordConsentChange(tx: Tx, change: ConsentChange): Promise<ConsentOutcome> {
  const contact = await tx
    .selectFrom('app.contacts')
    .select(['consent_state', 'phone_e164'])
    .where('shop_id', '=', change.shopId)
    .where('id', '=', change.contactId)
    .where('deleted_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
  if (!contact || !contact.phone_e164) return 'not_found';
  if (contact.consent_state === change.state) return 'unchanged';
  if (!consentChangeAllowed(contact.consent_state, change.state, change.source)) return 'refused';
  const head = await chainHead(tx, change.shopId, change.contactId);
  await insertConsentLinks(tx, [buildLink({ ...change, previousState: contact.consent_state, phone: contact.phone_e164 }, head)]);
  await tx
    .updateTable('app.contacts')
    .set({ consent_state: change.state, consent_updated_at: new Date() })
    .where('shop_id', '=', change.shopId)
    .where('id', '=', change.contactId)
    .execute();
  return 'changed';
}

export async function consentHistory(tx: Tx, shopId: string, contactId: string): Promise<ConsentEvent[]> {
  const rows = await tx
    .selectFrom('app.consent_events')
    .selectAll()
    .where('shop_id', '=', shopId)
    .where('contact_id', '=', contactId)
    .orderBy('seq')
    .execute();
  return rows.map((r) => ({
    seq: r.seq,
    state: r.state,
    previousState: r.previous_state,
    source: r.source,
    actor: { kind: r.actor_kind, id: r.actor_id },
    occurredAt: new Date(r.occurred_at).toISOString(),
    hash: r.hash.toString('hex'),
    prevHash: r.prev_hash.toString('hex'),
    redacted: r.pii_salt === null,
  }));
}

/** A live contact's consent history; a deleted or unknown contact is 404 (its links stay, redacted). */
export async function consentHistoryOfContact(tx: Tx, shopId: string, contactId: string): Promise<ConsentEvent[]> {
  if (!(await getContact(tx, shopId, contactId))) throw notFound();
  return consentHistory(tx, shopId, contactId);
}

/** Removes the consent evidence's PII (phone and salt); the chain stays valid. */
export async function redactConsentPii(tx: Tx, contactId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`select app_private.redact_consent_pii(${contactId}) as n`.execute(tx);
  return rows[0]?.n ?? 0;
}

type Link = ReturnType<typeof buildLink>;

/** Appends links to their chains: the one statement that writes consent events (one or a whole import batch). */
export async function insertConsentLinks(tx: Tx, links: Link[]): Promise<void> {
  if (links.length === 0) return;
  const col = <K extends keyof Link>(key: K) => links.map((l) => l[key]);
  await sql`
    insert into app.consent_events (shop_id, contact_id, seq, state, previous_state, source, actor_kind, actor_id, occurred_at, pii_digest, pii_salt, pii_phone, prev_hash, hash, opt_in_level)
    select v.shop_id, v.contact_id, v.seq, v.state::app.consent_state, v.previous_state::app.consent_state, v.source::app.consent_source, v.actor_kind, v.actor_id,
           v.occurred_at, v.pii_digest, v.pii_salt, v.pii_phone, v.prev_hash, v.hash, v.opt_in_level
      from unnest(${col('shop_id')}::uuid[], ${col('contact_id')}::uuid[], ${col('seq')}::int[], ${col('state')}::text[], ${col('previous_state')}::text[],
                  ${col('source')}::text[], ${col('actor_kind')}::text[], ${col('actor_id')}::uuid[], ${col('occurred_at')}::timestamptz[],
                  ${col('pii_digest')}::bytea[], ${col('pii_salt')}::bytea[], ${col('pii_phone')}::text[], ${col('prev_hash')}::bytea[], ${col('hash')}::bytea[],
                  ${col('opt_in_level')}::text[])
           as v(shop_id, contact_id, seq, state, previous_state, source, actor_kind, actor_id, occurred_at, pii_digest, pii_salt, pii_phone, prev_hash, hash, opt_in_level)`.execute(tx);
  await queueShopifyConsentPush(tx, links);
}

/**
 * Pigeon → Shopify: for each link that changes (not starts) a contact's consent from a
 * source other than Shopify (a STOP/START keyword, the API, an admin, an import moving an
 * existing contact), a contact that has a Shopify customer id gets its push job, in the
 * caller's transaction: the job exists exactly when the change commits. Links from Shopify
 * (the backfill, the customers/* webhooks) never push: Shopify already has that state, and
 * pushing it back would echo. A contact's first link never pushes either: a contact created
 * with a customer id is created from Shopify. One indexed select per call, only when a link
 * qualifies (an import batch of new contacts costs nothing).
 */
async function queueShopifyConsentPush(tx: Tx, links: Link[]): Promise<void> {
  const changes = links.filter((l) => l.previous_state !== null && l.source !== 'shopify');
  if (changes.length === 0) return;
  const byShop = new Map<string, string[]>();
  for (const l of changes) byShop.set(l.shop_id, [...(byShop.get(l.shop_id) ?? []), l.contact_id]);
  for (const [shopId, contactIds] of byShop) {
    const linked = await tx
      .selectFrom('app.contacts')
      .select('id')
      .where('shop_id', '=', shopId)
      .where('id', 'in', [...new Set(contactIds)])
      .where('shopify_customer_id', 'is not', null)
      .where('deleted_at', 'is', null)
      .orderBy('id')
      .execute();
    for (const { id } of linked) await addShopJob(tx, 'shopify_consent_push', { shopId, contactId: id });
  }
}
