// Shopify's customers/create, customers/update and customers/delete, in the shop's
// transaction (the webhook's job). A customer becomes a contact through the one mapping the
// backfill also uses (contacts/shopify-customer.ts) and the contacts bulk upsert with source
// 'shopify' (matched by customer id, then phone; consent moves only when Shopify's consent
// time is newer than the contact's last change, so a Shopify "subscribed" older than a STOP
// texted to Pigeon never re-subscribes anyone). Shopify does not order deliveries: a payload
// whose updated_at is not newer than the last one applied to the contact changes nothing.
// customers/delete redacts the linked contact as a deletion does.
import { randomUUID } from 'node:crypto';
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { upsertContacts } from '../contacts/bulk-upsert.js';
import { redactContact } from '../privacy/redact-contact.js';
import { customerFromWebhook, customerToContactRow, lockContactOfCustomer, markCustomerApplied, shopifyCustomerNumber } from '../contacts/shopify-customer.js';
import { defaultRegionOf } from '../settings/service.js';

export type CustomerOutcome = { applied: true } | { applied: false; note: string };

function timeOf(value: unknown): Date | null {
  if (typeof value !== 'string') return null;
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at;
}

export async function applyCustomerWebhook(tx: Tx, actor: Actor, topic: 'customers/create' | 'customers/update', payload: Record<string, unknown>, triggeredAt: Date): Promise<CustomerOutcome> {
  const shopId = actor.shopId;
  const customer = customerFromWebhook(payload);
  const customerNumber = shopifyCustomerNumber(customer.id);
  if (!customerNumber) return { applied: false, note: 'invalid customer id' };
  const updatedAt = timeOf(payload.updated_at) ?? triggeredAt;
  const existing = await lockContactOfCustomer(tx, shopId, customerNumber);
  if (existing?.shopifyUpdatedAt && existing.shopifyUpdatedAt >= updatedAt) return { applied: false, note: `older than the customer update already applied (${topic})` };
  const now = new Date();
  const mapping = customerToContactRow(shopId, customer, await defaultRegionOf(tx, shopId), randomUUID(), now);
  if (!mapping.ok) return { applied: false, note: mapping.reason };
  await upsertContacts(tx, shopId, [mapping.row], now, { source: 'shopify' });
  await markCustomerApplied(tx, shopId, customerNumber, updatedAt);
  return { applied: true };
}

export async function applyCustomerDeletion(tx: Tx, actor: Actor, payload: Record<string, unknown>): Promise<CustomerOutcome> {
  const customerNumber = typeof payload.id === 'number' || typeof payload.id === 'string' ? shopifyCustomerNumber(payload.id) : null;
  if (!customerNumber) return { applied: false, note: 'invalid customer id' };
  const contact = await lockContactOfCustomer(tx, actor.shopId, customerNumber);
  if (!contact) return { applied: false, note: 'no contact is linked to this customer' };
  await redactContact(tx, actor, contact.id);
  return { applied: true };
}
