// The tenant context of a transaction: which shop (and which user) Postgres RLS should see.
import { AsyncLocalStorage } from 'node:async_hooks';

export interface TenantContext {
  shopId?: string;
  userId?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class InvalidTenantIdError extends Error {
  constructor(what: string) {
    super(`${what} must be a UUID`);
    this.name = 'InvalidTenantIdError';
  }
}

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** Read by the driver when it begins a transaction; set only by withShop/withUser. */
export const tenantContextStorage = new AsyncLocalStorage<TenantContext>();

/**
 * SQL that sets the context transaction-locally. The ids are inlined (they must be strict
 * UUIDs, checked here) so that BEGIN and set_config travel in one simple-protocol round trip.
 */
export function tenantContextSql(context: TenantContext): string {
  const parts: string[] = [];
  if (context.shopId !== undefined) {
    if (!isUuid(context.shopId)) throw new InvalidTenantIdError('shopId');
    parts.push(`set_config('app.shop_id', '${context.shopId.toLowerCase()}', true)`);
  }
  if (context.userId !== undefined) {
    if (!isUuid(context.userId)) throw new InvalidTenantIdError('userId');
    parts.push(`set_config('app.user_id', '${context.userId.toLowerCase()}', true)`);
  }
  return parts.length > 0 ? `select ${parts.join(', ')}` : '';
}
