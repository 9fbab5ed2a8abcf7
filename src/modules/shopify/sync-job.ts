// The Shopify customer backfill, as a resumable workflow (the shopify_customer_sync job).
//
// 1. Reads the shop's domain and offline token (decrypted with the key ring) and runs a
//    bulk operation over the shop's customers with their SMS consent
//    (CUSTOMERS_BULK_QUERY); its id is committed at once, so a retry never starts a second
//    one (and if Shopify says one is already running, the app's current one is adopted).
// 2. Polls it for a short while; while Shopify still works the job re-adds itself with a
//    later run_at (through the catalogue) and ends, instead of holding a worker slot.
// 3. Streams the JSONL result (never whole in memory) and applies it in batches through
//    the contacts mapping (contacts/shopify-customer.ts) and the bulk upsert the CSV import
//    uses, source 'shopify'. Each batch commits with the counters and the checkpoint (the
//    lines applied): a crashed job resumes after the checkpoint, and since contacts are
//    matched by customer id, a line applied twice would still change nothing twice.
//    One batch is applied while the next is read and hashed, as the import does.
// 4. Done (or failed): finishShopifySync writes the audit with the counts.
//
// Resuming when the result is gone: Shopify keeps a bulk result for a week. A resumed job
// whose operation is unknown, EXPIRED, or whose result URL answers 403/404 runs a NEW bulk
// operation and starts again from its first line: the checkpoint and the line counters are
// reset (`restarts` + 1) rather than skipping lines of a different file by number. Nothing
// is duplicated (customer ids match); contacts created before the restart count as updated.
//
// Errors: a refusal (the token revoked, a bulk operation FAILED or CANCELED, a malformed
// answer) fails the sync; an outage or throttling is thrown for graphile-worker to retry,
// except on the job's last attempt, when the sync is marked failed so that the shop can
// start another.
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { readInShop, withShop } from '../../db/with-shop.js';
import { addShopJob } from '../../jobs/catalogue.js';
import { systemActor } from '../../lib/actor.js';
import type { KeyRing } from '../../lib/key-ring.js';
import {
  bulkOperation,
  bulkOperationRunQuery,
  currentBulkOperation,
  ShopifyAdminError,
  streamJsonl,
  toBulkCustomer,
  type BulkOperation,
  type ShopifyAdmin,
  type ShopifyGraphqlClient,
} from '../../providers/shopify-admin.js';
import { upsertContacts } from '../contacts/bulk-upsert.js';
import { customerPhone, customerToContactRow, type ShopifyContactRow } from '../contacts/shopify-customer.js';
import { readShopifyAccessToken } from './access-token.js';
import { finishShopifySync } from './sync.js';

export const SYNC_BATCH_SIZE = 5000;
const YIELD_EVERY_LINES = 250;

export interface SyncDeps {
  admin: ShopifyAdmin;
  keyRing: KeyRing;
}

export interface SyncOptions {
  batchSize?: number;
  /** Between two polls of the bulk operation. Default 2 s. */
  pollIntervalMs?: number;
  /** How long one run of the job polls before it re-adds itself for later. Default 20 s. */
  pollForMs?: number;
  /** When the re-added job runs. Default 15 s later. */
  rescheduleAfterMs?: number;
  /** Called after each committed batch (tests: a crash after N batches). */
  afterBatch?: (batches: number) => Promise<void>;
  /** The job's last attempt: a retryable failure fails the sync instead of being retried. */
  lastAttempt?: boolean;
}

export type SyncOutcome = 'done' | 'failed' | 'waiting' | 'already_finished';

class SyncRefused extends Error {}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function runShopifySync(db: Db, deps: SyncDeps, shopId: string, syncId: string, opts: SyncOptions = {}): Promise<SyncOutcome> {
  const actor = systemActor(shopId);
  const fail = async (error: string) => {
    await withShop(db, shopId, (tx) => finishShopifySync(tx, actor, syncId, { status: 'failed', error }));
    return 'failed' as const;
  };

  // Claim: the sync runs (again); the shop's domain, token and region come with it.
  const claimed = await withShop(db, shopId, async (tx) => {
    const sync = await tx
      .selectFrom('app.shopify_syncs')
      .select(['status', 'bulk_operation_id', 'checkpoint_line'])
      .where('shop_id', '=', shopId)
      .where('id', '=', syncId)
      .forUpdate()
      .executeTakeFirst();
    if (!sync || sync.status === 'done' || sync.status === 'failed') return null;
    await tx
      .updateTable('app.shopify_syncs')
      .set({ status: 'running', started_at: sql`coalesce(started_at, now())` as never })
      .where('shop_id', '=', shopId)
      .where('id', '=', syncId)
      .execute();
    const shop = await tx.selectFrom('app.shops').select('shopify_domain').where('id', '=', shopId).executeTakeFirst();
    const token = await readShopifyAccessToken(tx, deps.keyRing, shopId);
    const region = (await tx.selectFrom('app.shop_settings').select('default_region').where('shop_id', '=', shopId).executeTakeFirst())?.default_region ?? 'US';
    return { ...sync, domain: shop?.shopify_domain ?? null, token, region };
  });
  if (!claimed) return 'already_finished';
  if (!claimed.domain || !claimed.token) return fail('the shop has no Shopify access (uninstalled?)');

  try {
    const client = deps.admin.forShop(claimed.domain, claimed.token);
    let operationId = claimed.bulk_operation_id;
    let checkpoint = claimed.checkpoint_line;
    let restarted = false;
    const restart = async () => {
      if (restarted) throw new SyncRefused('the bulk result could not be read after running the operation again');
      restarted = true;
      operationId = await startOperation(client, db, shopId, syncId, true);
      checkpoint = 0;
    };
    if (!operationId) operationId = await startOperation(client, db, shopId, syncId, false);

    for (;;) {
      const bulk = await pollOperation(client, operationId, opts);
      if (bulk === 'running') {
        await withShop(db, shopId, (tx) => addShopJob(tx, 'shopify_customer_sync', { shopId, syncId }, { runAt: new Date(Date.now() + (opts.rescheduleAfterMs ?? 15_000)) }));
        return 'waiting';
      }
      if (bulk === null || bulk.status === 'EXPIRED') {
        await restart();
        continue;
      }
      if (bulk.status !== 'COMPLETED') throw new SyncRefused(`Shopify's bulk operation ended ${bulk.status}${bulk.errorCode ? ` (${bulk.errorCode})` : ''}`);
      await withShop(db, shopId, (tx) =>
        tx.updateTable('app.shopify_syncs').set({ object_count: String(bulk.objectCount) }).where('shop_id', '=', shopId).where('id', '=', syncId).execute(),
      );
      if (!bulk.url) break; // no customers at all
      try {
        await applyResult(db, shopId, syncId, bulk.url, checkpoint, claimed.region, opts);
        break;
      } catch (error) {
        // The signed URL has expired (or was never ours): run the operation again.
        if (error instanceof ShopifyAdminError && error.code === 'HTTP_STATUS' && (error.status === 403 || error.status === 404)) {
          await restart();
          continue;
        }
        throw error;
      }
    }
  } catch (error) {
    if (error instanceof SyncRefused) return fail(error.message);
    if (error instanceof ShopifyAdminError && (!error.retryable || opts.lastAttempt)) return fail(`Shopify: ${error.message}`);
    if (opts.lastAttempt) await fail('the sync failed on its last attempt').catch(() => {});
    throw error;
  }
  await withShop(db, shopId, (tx) => finishShopifySync(tx, actor, syncId, { status: 'done' }));
  return 'done';
}

/**
 * Runs the customers bulk query and commits its id with the sync. If Shopify already runs
 * one for this app (a previous attempt started it and crashed before recording it), that
 * one is adopted. `again`: the previous result expired; the counters restart.
 */
async function startOperation(client: ShopifyGraphqlClient, db: Db, shopId: string, syncId: string, again: boolean): Promise<string> {
  let operation: BulkOperation;
  try {
    operation = await bulkOperationRunQuery(client);
  } catch (error) {
    if (!(error instanceof ShopifyAdminError) || error.code !== 'USER_ERRORS') throw error;
    const current = await currentBulkOperation(client);
    if (!current || (current.status !== 'CREATED' && current.status !== 'RUNNING')) throw new SyncRefused(`Shopify refused the bulk operation (${error.codes.join(', ') || 'user errors'})`);
    operation = current;
  }
  await withShop(db, shopId, (tx) =>
    tx
      .updateTable('app.shopify_syncs')
      .set(
        again
          ? { bulk_operation_id: operation.id, checkpoint_line: 0, lines_read: 0, inserted: 0, updated: 0, skipped: 0, object_count: null, restarts: sql`restarts + 1` as never }
          : { bulk_operation_id: operation.id },
      )
      .where('shop_id', '=', shopId)
      .where('id', '=', syncId)
      .execute(),
  );
  return operation.id;
}

/** The operation once finished, null if Shopify does not know it, 'running' if it still runs after `pollForMs`. */
async function pollOperation(client: ShopifyGraphqlClient, id: string, opts: SyncOptions): Promise<BulkOperation | null | 'running'> {
  const until = Date.now() + (opts.pollForMs ?? 20_000);
  for (;;) {
    const bulk = await bulkOperation(client, id);
    if (!bulk || (bulk.status !== 'CREATED' && bulk.status !== 'RUNNING' && bulk.status !== 'CANCELING')) return bulk;
    const interval = opts.pollIntervalMs ?? 2_000;
    if (Date.now() + interval > until) return 'running';
    await sleep(interval);
  }
}

/** Streams the result and applies it after `checkpoint`, batch by batch, each batch committed with its checkpoint. */
async function applyResult(db: Db, shopId: string, syncId: string, url: string, checkpoint: number, region: string, opts: SyncOptions): Promise<void> {
  const batchSize = opts.batchSize ?? SYNC_BATCH_SIZE;
  // Phones already taken by an earlier line of this result (E.164 digits as numbers): a
  // second customer with the same number is skipped, not merged into the first's contact.
  const seen = new Set<number>();
  const key = (e164: string) => Number(e164.slice(1));
  let line = 0;
  let batch: ShopifyContactRow[] = [];
  let batchTime = new Date();
  let read = 0;
  let skipped = 0;
  let batches = 0;

  let inFlight: Promise<void> | null = null;
  const apply = async (rows: ShopifyContactRow[], linesRead: number, skippedLines: number, occurredAt: Date, lastLine: number) => {
    await withShop(db, shopId, async (tx) => {
      const counts = await upsertContacts(tx, shopId, rows, occurredAt, { source: 'shopify' });
      await sql`update app.shopify_syncs
                   set lines_read = lines_read + ${linesRead}, inserted = inserted + ${counts.inserted}, updated = updated + ${counts.updated},
                       skipped = skipped + ${skippedLines}, checkpoint_line = ${lastLine}
                 where shop_id = ${shopId} and id = ${syncId} and checkpoint_line < ${lastLine}`.execute(tx);
    });
    await opts.afterBatch?.(++batches);
  };
  const commit = async () => {
    const next = [batch, read, skipped, batchTime] as const;
    batch = [];
    read = 0;
    skipped = 0;
    if (inFlight) await inFlight;
    inFlight = apply(...next, line);
    inFlight.catch(() => {});
  };
  const drain = async () => {
    if (inFlight) await inFlight;
    inFlight = null;
  };

  try {
    for await (const value of streamJsonl(url)) {
      line++;
      if (inFlight && line % YIELD_EVERY_LINES === 0) await new Promise((resolve) => setImmediate(resolve));
      const customer = toBulkCustomer(value);
      if (line <= checkpoint) {
        // Applied before the crash: only its phone is remembered.
        const phone = customer ? customerPhone(customer, region) : null;
        if (phone) seen.add(key(phone.e164));
        continue;
      }
      read++;
      if (batch.length === 0) batchTime = new Date();
      const mapped = customer ? customerToContactRow(shopId, customer, region, randomUUID(), batchTime) : null;
      if (!mapped?.ok || seen.has(key(mapped.row.phone))) {
        skipped++;
      } else {
        seen.add(key(mapped.row.phone));
        batch.push(mapped.row);
      }
      if (read >= batchSize) await commit();
    }
    if (read > 0) await commit();
    await drain();
  } catch (error) {
    const applyError = await drain().then(
      () => null,
      (e: unknown) => e,
    );
    throw applyError ?? error;
  }
}

/** The shop's latest sync as the job sees it (tests, the bench). */
export async function syncState(db: Db, shopId: string, syncId: string) {
  return readInShop(db, shopId, (tx) => tx.selectFrom('app.shopify_syncs').selectAll().where('shop_id', '=', shopId).where('id', '=', syncId).executeTakeFirst());
}
