// A contact row as the API shows it, and the one read every contact operation starts from.
// Deleted (redacted) contacts are not found: their row stays only for history's references.
import type { ConsentState } from '../../db/database.js';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import type { Contact } from './schemas.js';

export const contactColumns = ['id', 'phone_e164', 'email', 'first_name', 'last_name', 'tags', 'attributes', 'time_zone', 'country', 'consent_state', 'consent_updated_at', 'created_at', 'updated_at'] as const;
type Row = {
  id: string;
  phone_e164: string | null;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  tags: string[];
  attributes: Record<string, unknown>;
  time_zone: string | null;
  country: string | null;
  consent_state: ConsentState;
  consent_updated_at: Date | null;
  created_at: Date;
  updated_at: Date;
};

export function contactView(r: Row): Contact {
  return {
    id: r.id,
    phone: r.phone_e164 ?? '',
    email: r.email,
    firstName: r.first_name,
    lastName: r.last_name,
    tags: r.tags,
    attributes: r.attributes,
    timeZone: r.time_zone,
    country: r.country,
    consent: r.consent_state,
    consentUpdatedAt: r.consent_updated_at ? new Date(r.consent_updated_at).toISOString() : null,
    createdAt: new Date(r.created_at).toISOString(),
    updatedAt: new Date(r.updated_at).toISOString(),
  };
}

// Another shop's contact id gets the same answer as one that never existed.
export const notFound = () => new AppError(404, 'NOT_FOUND', 'Contact not found');

export async function getContact(tx: Tx, shopId: string, id: string): Promise<Contact | null> {
  const row = await tx.selectFrom('app.contacts').select(contactColumns).where('shop_id', '=', shopId).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  return row ? contactView(row) : null;
}
