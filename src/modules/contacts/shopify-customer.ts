// A Shopify customer as a contact: the one mapping the backfill (shopify/sync-job.ts) and
// the customers/create|update webhooks share. It produces a row for upsertContacts (called
// with source 'shopify'), which matches the contact by customer id, then phone.
//
// - Phone: parsed into E.164 with the shop's default region; a customer without a usable
//   phone is skipped (the caller counts it): a contact is a phone number.
// - Consent (smsMarketingConsent / sms_marketing_consent): SUBSCRIBED → subscribed;
//   UNSUBSCRIBED and REDACTED → unsubscribed; NOT_SUBSCRIBED, PENDING (double opt-in not
//   confirmed yet) and INVALID → no change (a new contact starts as 'never'). The consent
//   carries Shopify's consentUpdatedAt: an existing contact's state moves only when that is
//   newer than its last consent change in Pigeon (consentIsNewer), so a Shopify
//   "subscribed" older than a STOP texted to Pigeon never re-subscribes anyone.
// - The opt-in level (SINGLE_OPT_IN, CONFIRMED_OPT_IN, UNKNOWN) is kept on the consent link.
import { sql } from 'kysely';
import type { ConsentState, ShopifyOptInLevel } from '../../db/database.js';
import type { Tx } from '../../db/with-shop.js';
import type { ContactUpsertRow } from './bulk-upsert.js';
import { buildLink } from './consent.js';
import { parsePhone } from './phone.js';
import { normalizeTags } from './service.js';

/** A customer as the Admin GraphQL API gives it (a bulk result line, a node). */
export interface ShopifyCustomer {
  /** gid://shopify/Customer/<n>, or the bare number (webhook payloads). */
  id: string | number;
  phone: string | null;
  firstName: string | null;
  lastName: string | null;
  tags: string[];
  smsMarketingConsent: {
    marketingState: string;
    marketingOptInLevel: string | null;
    consentUpdatedAt: string | null;
    consentCollectedFrom: string | null;
  } | null;
}

export type ShopifyContactRow = ContactUpsertRow & { shopifyCustomerId: string; consentAt: Date | null };

export type CustomerMapping = { ok: true; row: ShopifyContactRow } | { ok: false; reason: 'invalid customer id' | 'missing phone number' | 'invalid phone number' };

const GID = /^gid:\/\/shopify\/Customer\/([1-9][0-9]{0,18})$/;
const NUMBER = /^[1-9][0-9]{0,18}$/;
const OPT_IN_LEVELS: ReadonlySet<string> = new Set(['SINGLE_OPT_IN', 'CONFIRMED_OPT_IN', 'UNKNOWN']);
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/g;

/** The customer id as the number in its gid (text: it is a bigint), or null when it is not one. */
export function shopifyCustomerNumber(id: string | number): string | null {
  const text = String(id);
  const number = GID.exec(text)?.[1] ?? (NUMBER.test(text) ? text : null);
  // bigint's range (the column): 19 digits may still exceed it.
  return number && BigInt(number) <= 9_223_372_036_854_775_807n ? number : null;
}

/** Shopify's marketing state as a Pigeon consent state; null: leaves the contact's consent alone. */
export function consentFromShopify(marketingState: string | null | undefined): ConsentState | null {
  switch ((marketingState ?? '').toUpperCase()) {
    case 'SUBSCRIBED':
      return 'subscribed';
    case 'UNSUBSCRIBED':
    case 'REDACTED':
      return 'unsubscribed';
    default:
      return null;
  }
}

const clean = (value: string | null | undefined, max: number) => {
  const text = (value ?? '').replace(CONTROL_CHARS, '').trim();
  return text.length > 0 ? text.slice(0, max) : null;
};

/** Shopify's time, or null when absent or unreadable. */
function timeOf(value: string | null | undefined): Date | null {
  if (!value) return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
}

/** The customer's phone in E.164 (with its country), or null when it has no usable one. */
export function customerPhone(customer: Pick<ShopifyCustomer, 'phone'>, defaultRegion: string) {
  const raw = clean(customer.phone, 40);
  return raw ? parsePhone(raw, defaultRegion) : null;
}

/**
 * The contact row for a customer, or why there is none. `contactId` is the id a new contact
 * gets (its first consent link is built, and hashed, here); `now` the link's time.
 */
export function customerToContactRow(shopId: string, customer: ShopifyCustomer, defaultRegion: string, contactId: string, now: Date): CustomerMapping {
  const customerId = shopifyCustomerNumber(customer.id);
  if (!customerId) return { ok: false, reason: 'invalid customer id' };
  const rawPhone = clean(customer.phone, 40);
  if (!rawPhone) return { ok: false, reason: 'missing phone number' };
  const phone = parsePhone(rawPhone, defaultRegion);
  if (!phone) return { ok: false, reason: 'invalid phone number' };
  const sms = customer.smsMarketingConsent;
  const consent = consentFromShopify(sms?.marketingState);
  const level = (sms?.marketingOptInLevel ?? '').toUpperCase();
  const optInLevel = consent && OPT_IN_LEVELS.has(level) ? (level as ShopifyOptInLevel) : null;
  return {
    ok: true,
    row: {
      id: contactId,
      firstLink: buildLink(
        { shopId, contactId, state: consent ?? 'never', previousState: null, source: 'shopify', actor: { kind: 'shopify' }, phone: phone.e164, optInLevel },
        null,
        now,
      ),
      phone: phone.e164,
      country: phone.country,
      email: null,
      firstName: clean(customer.firstName, 100),
      lastName: clean(customer.lastName, 100),
      tags: normalizeTags(customer.tags.map((t) => t.replace(CONTROL_CHARS, '')))
        .slice(0, 50)
        .map((t) => t.slice(0, 64)),
      consent,
      timeZone: null,
      shopifyCustomerId: customerId,
      consentAt: timeOf(sms?.consentUpdatedAt),
      optInLevel,
    },
  };
}

/**
 * A customers/create|update webhook payload (REST field names) as a ShopifyCustomer, for
 * the webhook handlers: `sms_marketing_consent` {state, opt_in_level, consent_updated_at,
 * consent_collected_from}, tags as one comma-separated string.
 */
export function customerFromWebhook(payload: Record<string, unknown>): ShopifyCustomer {
  const str = (x: unknown) => (typeof x === 'string' ? x : null);
  const sms = payload.sms_marketing_consent as Record<string, unknown> | null | undefined;
  const tags = payload.tags;
  return {
    id: typeof payload.id === 'number' || typeof payload.id === 'string' ? payload.id : '',
    phone: str(payload.phone),
    firstName: str(payload.first_name),
    lastName: str(payload.last_name),
    tags: typeof tags === 'string' ? tags.split(',') : Array.isArray(tags) ? tags.filter((t): t is string => typeof t === 'string') : [],
    smsMarketingConsent:
      sms && typeof sms.state === 'string'
        ? { marketingState: sms.state, marketingOptInLevel: str(sms.opt_in_level), consentUpdatedAt: str(sms.consent_updated_at), consentCollectedFrom: str(sms.consent_collected_from) }
        : null,
  };
}

/** The live contact linked to a Shopify customer, locked, with the customer update last applied to it. */
export async function lockContactOfCustomer(tx: Tx, shopId: string, customerNumber: string): Promise<{ id: string; shopifyUpdatedAt: Date | null } | null> {
  const row = await tx
    .selectFrom('app.contacts')
    .select(['id', 'shopify_updated_at'])
    .where('shop_id', '=', shopId)
    .where('shopify_customer_id', '=', customerNumber as never)
    .where('deleted_at', 'is', null)
    .forUpdate()
    .executeTakeFirst();
  return row ? { id: row.id, shopifyUpdatedAt: row.shopify_updated_at } : null;
}

/** Records that a customer payload of this time was applied (older ones are then ignored). */
export async function markCustomerApplied(tx: Tx, shopId: string, customerNumber: string, updatedAt: Date): Promise<void> {
  await tx
    .updateTable('app.contacts')
    .set({ shopify_updated_at: updatedAt })
    .where('shop_id', '=', shopId)
    .where('shopify_customer_id', '=', customerNumber as never)
    .where('deleted_at', 'is', null)
    .execute();
}

/**
 * An order: the contact (by customer id, then phone) has ordered at `orderedAt`; its
 * last_ordered_at only moves forward (orders arrive in any order). Returns the contact, if any.
 */
export async function recordContactOrder(tx: Tx, shopId: string, match: { customerNumber: string | null; phone: string | null }, orderedAt: Date): Promise<string | null> {
  let contactId: string | null = null;
  if (match.customerNumber) contactId = (await lockContactOfCustomer(tx, shopId, match.customerNumber))?.id ?? null;
  if (!contactId && match.phone) {
    const byPhone = await tx.selectFrom('app.contacts').select('id').where('shop_id', '=', shopId).where('phone_e164', '=', match.phone).where('deleted_at', 'is', null).executeTakeFirst();
    contactId = byPhone?.id ?? null;
  }
  if (!contactId) return null;
  await sql`update app.contacts set last_ordered_at = greatest(coalesce(last_ordered_at, ${orderedAt}::timestamptz), ${orderedAt}::timestamptz)
             where shop_id = ${shopId} and id = ${contactId}`.execute(tx);
  return contactId;
}
