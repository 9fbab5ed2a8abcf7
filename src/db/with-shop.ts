// The only way to run tenant-scoped statements: a transaction that starts with the shop
// (and optionally the user) set transaction-locally, so Postgres RLS decides what it sees.
import type { Transaction } from 'kysely';
import type { Database } from './database.js';
import type { Db } from './kysely.js';
import { InvalidTenantIdError, isUuid, tenantContextStorage, type TenantContext } from './tenant-context.js';

export type Tx = Transaction<Database>;

async function inContext<T>(db: Db, context: TenantContext, fn: (tx: Tx) => Promise<T>, readOnly = false): Promise<T> {
  // Validate before touching the pool: a bad id must never reach SQL.
  if (context.shopId !== undefined && !isUuid(context.shopId)) throw new InvalidTenantIdError('shopId');
  if (context.userId !== undefined && !isUuid(context.userId)) throw new InvalidTenantIdError('userId');
  const transaction = readOnly ? db.transaction().setAccessMode('read only') : db.transaction();
  return tenantContextStorage.run(context, () => transaction.execute(fn));
}

/** Run fn in a transaction scoped to shopId (and userId when given). */
export function withShop<T>(db: Db, shopId: string, fn: (tx: Tx) => Promise<T>, userId?: string): Promise<T> {
  return inContext(db, userId === undefined ? { shopId } : { shopId, userId }, fn);
}

/**
 * withShop for reads: the transaction is READ ONLY (Postgres refuses any write in it,
 * including one hidden in a function), so on the pipelined API pool its COMMIT is not
 * waited for. For GET routes: one round trip, like a bare select.
 */
export function readInShop<T>(db: Db, shopId: string, fn: (tx: Tx) => Promise<T>, userId?: string): Promise<T> {
  return inContext(db, userId === undefined ? { shopId } : { shopId, userId }, fn, true);
}

/** Run fn in a transaction scoped to a user only (their sessions, their memberships). */
export function withUser<T>(db: Db, userId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return inContext(db, { userId }, fn);
}

/**
 * A transaction with no tenant at all: RLS shows it nothing. For writes that belong to no
 * shop and no known user, such as the audit row of a failed login for an unknown e-mail.
 */
export function withoutTenant<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return inContext(db, {}, fn);
}
