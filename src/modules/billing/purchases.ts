// The purchase row: reading, listing and locking it, and its view. A module-private table
// (app.credit_purchases); other modules never read it.
import { sql, type Selectable } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import type { Database } from '../../db/database.js';
import { AppError } from '../../lib/app-error.js';
import { afterCreatedAtId } from '../../lib/cursor.js';
import type { Purchase, PurchaseStatus } from './schemas.js';

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
