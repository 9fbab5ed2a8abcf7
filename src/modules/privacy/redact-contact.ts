// Deleting a contact is a redaction across the modules that hold something about the person:
// contacts (the row's PII and the consent evidence's), imports (the contact's import error
// rows: their masked phone and line point at the person). One operation, one audit row. Its
// own module's, because it reaches across domains (imports already depends on contacts).
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { audit } from '../audit/service.js';
import { redactContactRow } from '../contacts/service.js';
import { eraseRowErrorsOfContact } from '../imports/errors.js';

export async function redactContact(tx: Tx, actor: Actor, id: string): Promise<void> {
  await redactContactRow(tx, actor.shopId, id);
  await eraseRowErrorsOfContact(tx, actor.shopId, id);
  await audit(tx, actor, { action: 'contact.redact', resourceType: 'contact', resourceId: id, result: 'success' });
}
