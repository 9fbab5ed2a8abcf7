// The purchase row: reading, listing and locking it, and its view. A module-private table
// (app.credit_purchases); other modules never read it.
import { sql, type Selectable } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import type { Database } from '../../db/database.js';
import { AppError } from '../../lib/app-error.js';
import { afterCreatedAtId } from '../../lib/cursor.js';
import type { Actor } from '../../lib/actor.js';
import { audit } from '../audit/service.js';
import type { CreditPackage, Purchase, PurchaseStatus } from './schemas.js';

export type PurchaseRow = Selectable<Database['app.credit_purchases']>;

const iso = (value: Date | string | null) => (value === null ? null : new Date(value).toISOString());

export function purchaseView(row: PurchaseRow): Purchase {
  return {
    id: row.id,
    packageId: row.package_id,
    provider: row.provider,
    status: row.status,
    credits: row.credits,
    amount: Number(row.amount_minor),
    currency: row.currency,
    amountRefunded: Number(row.amount_refunded_minor),
    creditsReversed: row.credits_reversed,
    creditShortfall: row.credit_shortfall,
    checkoutUrl: row.status === 'pending' ? row.checkout_url : null,
    receiptUrl: row.receipt_url,
    failureReason: row.failure_reason,
    createdAt: new Date(row.created_at).toISOString(),
    paidAt: iso(row.paid_at),
  };
}

export const purchaseNotFound = () => new AppError(404, 'NOT_FOUND', 'No such purchase');

export async function findPurchase(tx: Tx, shopId: string, id: string): Promise<PurchaseRow | undefined> {
  return tx.selectFrom('app.credit_purchases').selectAll().where('shop_id', '=', shopId).where('id', '=', id).executeTakeFirst();
}

/** The row, locked for the rest of the transaction: every settlement runs under this lock. */
export async function lockPurchase(tx: Tx, shopId: string, id: string): Promise<PurchaseRow | undefined> {
  return tx.selectFrom('app.credit_purchases').selectAll().where('shop_id', '=', shopId).where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function getPurchase(tx: Tx, shopId: string, id: string): Promise<Purchase> {
  const row = await findPurchase(tx, shopId, id);
  if (!row) throw purchaseNotFound();
  return purchaseView(row);
}

export async function listPurchases(
  tx: Tx,
  shopId: string,
  page: { limit: number; after: [string, string] | null; status?: PurchaseStatus | undefined },
): Promise<{ items: Purchase[]; next: [string, string] | null }> {
  let query = tx
    .selectFrom('app.credit_purchases')
    .selectAll()
    .select(sql<string>`created_at::text`.as('cursor_at'))
    .where('shop_id', '=', shopId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (page.status) query = query.where('status', '=', page.status);
  if (page.after) query = query.where(afterCreatedAtId(page.after, '<'));
  const rows = await query.execute();
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return { items: items.map(purchaseView), next: rows.length > page.limit && last ? [last.cursor_at, last.id] : null };
}

/** A new pending purchase of a package (credits, price and currency copied from it), audited. */
export async function createPendingPurchase(tx: Tx, actor: Actor, pkg: CreditPackage, provider: 'stripe' | 'shopify'): Promise<PurchaseRow> {
  const row = await tx
    .insertInto('app.credit_purchases')
    .values({ shop_id: actor.shopId, package_id: pkg.id, provider, credits: pkg.credits, amount_minor: pkg.amount, currency: pkg.currency, created_by: actor.userId })
    .returningAll()
    .executeTakeFirstOrThrow();
  await audit(tx, actor, {
    action: 'billing.purchase_created',
    resourceType: 'credit_purchase',
    resourceId: row.id,
    result: 'success',
    metadata: { provider, packageId: pkg.id, credits: pkg.credits, amount: pkg.amount, currency: pkg.currency },
  });
  return row;
}

/** A purchase whose checkout could not be started: failed (nothing was charged), audited. */
export async function failUnstartedPurchase(tx: Tx, actor: Actor, row: PurchaseRow, error: unknown): Promise<void> {
  await tx.updateTable('app.credit_purchases').set({ status: 'failed', failure_reason: 'checkout_unavailable', updated_at: new Date() }).where('shop_id', '=', actor.shopId).where('id', '=', row.id).execute();
  await audit(tx, actor, { action: 'billing.purchase_failed', resourceType: 'credit_purchase', resourceId: row.id, result: 'failure', metadata: { provider: row.provider, reason: 'checkout_unavailable', error: (error as Error).name } });
}
