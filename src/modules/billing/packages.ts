// The credit package catalogue (app.credit_packages): global, priced on the server.
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import type { CreditPackage } from './schemas.js';

export async function listActivePackages(tx: Tx): Promise<CreditPackage[]> {
  const rows = await tx.selectFrom('app.credit_packages').selectAll().where('active', '=', true).orderBy('sort_order').orderBy('id').execute();
  return rows.map((r) => ({ id: r.id, name: r.name, credits: r.credits, amount: Number(r.amount_minor), currency: r.currency }));
}

/** The package a purchase names; only an active one can be bought. */
export async function activePackage(tx: Tx, id: string): Promise<CreditPackage> {
  const row = await tx.selectFrom('app.credit_packages').selectAll().where('id', '=', id).where('active', '=', true).executeTakeFirst();
  if (!row) throw new AppError(404, 'PACKAGE_NOT_FOUND', 'No active credit package has this id', { field: 'body.packageId' });
  return { id: row.id, name: row.name, credits: row.credits, amount: Number(row.amount_minor), currency: row.currency };
}
