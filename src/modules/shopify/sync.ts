// The Shopify customer backfill's operations: start one (owners and admins; a shop installed
// from Shopify whose token is still there; one at a time per shop), read the latest, and
// finish one (the job's last step). Each takes a tenant transaction and writes its audit.
// The job that does the work is sync-job.ts.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import { addShopJob } from '../../jobs/catalogue.js';
import type { Actor } from '../../lib/actor.js';
import { AppError } from '../../lib/app-error.js';
import { audit } from '../audit/service.js';
import type { ShopifySync } from './schemas.js';

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

interface SyncRow {
  id: string;
  status: ShopifySync['status'];
  object_count: string | null;
  lines_read: number;
  inserted: number;
  updated: number;
  skipped: number;
  restarts: number;
  error: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const SYNC_COLUMNS = ['id', 'status', 'object_count', 'lines_read', 'inserted', 'updated', 'skipped', 'restarts', 'error', 'created_at', 'started_at', 'finished_at'] as const;

export function syncView(r: SyncRow): ShopifySync {
  return {
    id: r.id,
    status: r.status,
    customersTotal: r.object_count === null ? null : Number(r.object_count),
    customersRead: r.lines_read,
    inserted: r.inserted,
    updated: r.updated,
    skipped: r.skipped,
    restarts: r.restarts,
    error: r.error,
    createdAt: iso(r.created_at)!,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
  };
}

/**
 * Starts a backfill: the sync row and its job commit together. The shop row is locked
 * first, so of two concurrent starts the second sees the first's sync and gets 409.
 */
export async function startShopifySync(tx: Tx, actor: Actor): Promise<ShopifySync> {
  const shop = await tx
    .selectFrom('app.shops')
    .select(['shopify_domain', sql<boolean>`shopify_access_token is not null`.as('has_token')])
    .where('id', '=', actor.shopId)
    .forUpdate()
    .executeTakeFirst();
  if (!shop?.shopify_domain || !shop.has_token) {
    throw new AppError(409, 'SHOPIFY_NOT_INSTALLED', 'This shop was not installed from Shopify, or Shopify no longer grants Pigeon access to it');
  }
  const active = await tx
    .selectFrom('app.shopify_syncs')
    .select('id')
    .where('shop_id', '=', actor.shopId)
    .where('status', 'in', ['queued', 'running'])
    .executeTakeFirst();
  if (active) throw new AppError(409, 'SHOPIFY_SYNC_RUNNING', 'A customer sync is already queued or running for this shop: follow it at GET /api/v1/shopify/sync');
  const row = await tx
    .insertInto('app.shopify_syncs')
    .values({ shop_id: actor.shopId, created_by: actor.userId })
    .returning(SYNC_COLUMNS)
    .executeTakeFirstOrThrow();
  await addShopJob(tx, 'shopify_customer_sync', { shopId: actor.shopId, syncId: row.id });
  await audit(tx, actor, { action: 'shopify.sync_started', resourceType: 'shopify_sync', resourceId: row.id, result: 'success' });
  return syncView(row as SyncRow);
}

/** The shop's most recent backfill; 404 when it never ran one. */
export async function latestShopifySync(tx: Tx, shopId: string): Promise<ShopifySync> {
  const row = await tx.selectFrom('app.shopify_syncs').select(SYNC_COLUMNS).where('shop_id', '=', shopId).orderBy('created_at', 'desc').limit(1).executeTakeFirst();
  if (!row) throw new AppError(404, 'NOT_FOUND', 'This shop has not synced its Shopify customers yet');
  return syncView(row as SyncRow);
}

/** The job's last step: the sync is done or failed, with its counts in the audit. */
export async function finishShopifySync(tx: Tx, actor: Actor, syncId: string, outcome: { status: 'done' | 'failed'; error?: string | null }): Promise<ShopifySync | null> {
  const row = await tx
    .updateTable('app.shopify_syncs')
    .set({ status: outcome.status, error: outcome.error?.slice(0, 500) ?? null, finished_at: new Date() })
    .where('shop_id', '=', actor.shopId)
    .where('id', '=', syncId)
    .where('status', 'in', ['queued', 'running'])
    .returning(SYNC_COLUMNS)
    .executeTakeFirst();
  if (!row) return null;
  const sync = syncView(row as SyncRow);
  await audit(tx, actor, {
    action: 'shopify.sync_finished',
    resourceType: 'shopify_sync',
    resourceId: syncId,
    result: outcome.status === 'done' ? 'success' : 'failure',
    metadata: {
      status: sync.status,
      customersTotal: sync.customersTotal,
      customersRead: sync.customersRead,
      inserted: sync.inserted,
      updated: sync.updated,
      skipped: sync.skipped,
      restarts: sync.restarts,
      ...(sync.error ? { error: sync.error } : {}),
    },
  });
  return sync;
}
