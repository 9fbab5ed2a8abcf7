// Contact changes: create, edit, change consent, and delete (a redaction: PII removed, the
// row kept for history's references). Each takes the caller's transaction and the actor;
// delete writes its audit row here, with the change it records.
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { AppError } from '../../lib/app-error.js';
import { audit } from '../audit/service.js';
import { consentActorOf, recordConsentChange, recordInitialConsent, redactConsentPii } from './consent.js';
import { contactColumns, contactView, getContact, notFound } from './contact-row.js';
import { parsePhone, timeZoneForCountry } from './phone.js';
import type { ConsentChangeInput, Contact, ContactInput, ContactPatch } from './schemas.js';
import { suppressedAmong } from './suppression.js';
import { defaultRegionOf } from '../settings/service.js';

/** The live contact with this phone in the shop, if any (inbound texts find their sender by it). */
export async function liveContactIdByPhone(tx: Tx, shopId: string, phone: string): Promise<string | null> {
  const row = await tx.selectFrom('app.contacts').select('id').where('shop_id', '=', shopId).where('phone_e164', '=', phone).where('deleted_at', 'is', null).executeTakeFirst();
  return row?.id ?? null;
}

export function normalizePhone(input: string, region: string, field = 'body.phone') {
  const parsed = parsePhone(input, region);
  if (!parsed) throw new AppError(400, 'INVALID_PHONE', 'phone is not a valid phone number', { field });
  return parsed;
}

/** Tags: trimmed, lowercased, unique, in order. */
export function normalizeTags(tags: string[] | undefined): string[] {
  return [...new Set((tags ?? []).map((t) => t.trim().toLowerCase()).filter((t) => t.length > 0))];
}

// Unique per shop: says only that this shop already has the number.
function phoneTaken(error: unknown): unknown {
  if ((error as { code?: string }).code === '23505') return new AppError(409, 'CONTACT_EXISTS', 'A contact with this phone number already exists', { field: 'body.phone' });
  return error;
}

export async function createContact(tx: Tx, actor: Actor, input: ContactInput): Promise<Contact> {
  const shopId = actor.shopId;
  const phone = normalizePhone(input.phone, await defaultRegionOf(tx, shopId));
  // A phone that texted STOP starts unsubscribed, whatever the request claims.
  const suppressed = (await suppressedAmong(tx, shopId, [phone.e164])).size > 0;
  const consent = suppressed ? 'unsubscribed' : (input.consent ?? 'never');
  try {
    const row = await tx
      .insertInto('app.contacts')
      .values({
        shop_id: shopId,
        phone_e164: phone.e164,
        email: input.email ?? null,
        first_name: input.firstName ?? null,
        last_name: input.lastName ?? null,
        tags: normalizeTags(input.tags),
        attributes: JSON.stringify(input.attributes ?? {}),
        time_zone: input.timeZone ?? timeZoneForCountry(phone.country),
        country: phone.country,
        consent_state: consent,
        consent_updated_at: new Date(),
      })
      .returning(contactColumns)
      .executeTakeFirstOrThrow();
    await recordInitialConsent(tx, { shopId, contactId: row.id, state: consent, source: 'api', actor: consentActorOf(actor), phone: phone.e164 });
    return contactView(row);
  } catch (error) {
    throw phoneTaken(error);
  }
}

export async function updateContact(tx: Tx, actor: Actor, id: string, patch: ContactPatch): Promise<Contact> {
  const shopId = actor.shopId;
  const set: Record<string, unknown> = {};
  if (patch.phone !== undefined) {
    const phone = normalizePhone(patch.phone, await defaultRegionOf(tx, shopId));
    set.phone_e164 = phone.e164;
    set.country = phone.country;
    if (patch.timeZone === undefined) set.time_zone = timeZoneForCountry(phone.country);
  }
  if (patch.email !== undefined) set.email = patch.email;
  if (patch.firstName !== undefined) set.first_name = patch.firstName;
  if (patch.lastName !== undefined) set.last_name = patch.lastName;
  if (patch.tags !== undefined) set.tags = normalizeTags(patch.tags);
  if (patch.attributes !== undefined) set.attributes = JSON.stringify(patch.attributes);
  if (patch.timeZone !== undefined) set.time_zone = patch.timeZone;
  try {
    const row = await tx
      .updateTable('app.contacts')
      .set(set)
      .where('shop_id', '=', shopId)
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .returning(contactColumns)
      .executeTakeFirst();
    if (!row) throw notFound();
    return contactView(row);
  } catch (error) {
    throw phoneTaken(error);
  }
}

/** An explicit change by a person: the only way to re-subscribe an unsubscribed contact. */
export async function changeContactConsent(tx: Tx, actor: Actor, id: string, input: ConsentChangeInput): Promise<Contact> {
  const shopId = actor.shopId;
  const outcome = await recordConsentChange(tx, { shopId, contactId: id, state: input.state, source: input.source ?? 'api', actor: consentActorOf(actor) });
  if (outcome === 'not_found') throw notFound();
  return (await getContact(tx, shopId, id))!;
}

/**
 * The contacts half of a deletion (privacy/redact-contact.ts is the whole operation, with
 * the import error rows and the audit): the phone, e-mail, names, tags, attributes and the
 * consent evidence's PII are removed; the row stays (deleted) so that campaign history and
 * the consent chain keep their non-identifying references. 404 for no such live contact.
 */
export async function redactContactRow(tx: Tx, shopId: string, id: string): Promise<void> {
  const row = await tx
    .updateTable('app.contacts')
    .set({ phone_e164: null, email: null, first_name: null, last_name: null, tags: [], attributes: '{}', time_zone: null, shopify_customer_id: null, deleted_at: new Date() })
    .where('shop_id', '=', shopId)
    .where('id', '=', id)
    .where('deleted_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (!row) throw notFound();
  await redactConsentPii(tx, id);
}
