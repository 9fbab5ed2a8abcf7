// The idempotency plugin's store (app.idempotency_keys): claim, complete, release, sweep.
// Each call is its own short transaction on the shop (the caller's request runs in
// between), so a claim is visible to a concurrent retry at once. It sits beside its plugin
// because plugins import only db/ and lib/, never a module.
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/kysely.js';
import { withShop, type Tx } from '../db/with-shop.js';
import { AppError } from '../lib/app-error.js';

export const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;
/** How long a claim holds before a retry may take over a request that died. */
export const IDEMPOTENCY_LOCK_SECONDS = 120;
/** Responses larger than this are not stored (the claim is released instead). */
export const MAX_STORED_RESPONSE_BYTES = 65536;

export type ClaimOutcome =
  | { kind: 'claimed' }
  | { kind: 'replay'; status: number; contentType: string | null; body: string }
  | { kind: 'mismatch' }
  | { kind: 'running' };

/**
 * How deep a request may nest before it is refused rather than hashed. The JSON parser
 * already refuses bodies deeper than its own limit (src/plugins/request-bodies.ts); this
 * keeps the recursion below bounded whatever hands it a value.
 */
export const MAX_HASHED_DEPTH = 64;

/** JSON with object keys sorted at every level: the same body always hashes the same. */
function canonicalJson(value: unknown, depth = 0): string {
  if (depth > MAX_HASHED_DEPTH) throw new AppError(400, 'BODY_TOO_DEEP', `The request is nested deeper than ${MAX_HASHED_DEPTH} levels`);
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item, depth + 1)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.keys(value as Record<string, unknown>)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k], depth + 1)}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export function requestHash(parts: { method: string; route: string; params: unknown; body: unknown }): Buffer {
  return createHash('sha256').update(canonicalJson([parts.method, parts.route, parts.params ?? null, parts.body ?? null])).digest();
}

/**
 * Claims the key for this request, or says what to answer instead: the stored response
 * (same request, finished), 422 (another request under this key), 409 (still running).
 */
export async function claimIdempotencyKey(db: Db, shopId: string, key: string, hash: Buffer): Promise<ClaimOutcome> {
  return withShop(db, shopId, (tx) => claimIdempotencyKeyIn(tx, shopId, key, hash));
}

/**
 * The claim inside the caller's transaction: an upload claims its key in the transaction
 * that stored the file (its hash is known only once the file has streamed), so a refused
 * claim rolls the upload back with it, and the claim is visible only if the upload commits.
 */
export async function claimIdempotencyKeyIn(tx: Tx, shopId: string, key: string, hash: Buffer): Promise<ClaimOutcome> {
  const inserted = await tx
    .insertInto('app.idempotency_keys')
    .values({
      shop_id: shopId,
      key,
      request_hash: hash,
      locked_until: sql<Date>`now() + make_interval(secs => ${IDEMPOTENCY_LOCK_SECONDS})`,
      expires_at: sql<Date>`now() + make_interval(secs => ${IDEMPOTENCY_TTL_SECONDS})`,
    })
    .onConflict((oc) => oc.columns(['shop_id', 'key']).doNothing())
    .returning('key')
    .executeTakeFirst();
  if (inserted) return { kind: 'claimed' };
  const existing = await tx
    .selectFrom('app.idempotency_keys')
    .select(['request_hash', 'state', 'response_status', 'response_content_type', 'response_body', sql<boolean>`locked_until < now()`.as('abandoned'), sql<boolean>`expires_at < now()`.as('expired')])
    .where('shop_id', '=', shopId)
    .where('key', '=', key)
    .forUpdate()
    .executeTakeFirst();
  if (!existing) return { kind: 'running' }; // deleted under us by the sweep: let the client retry
  const takeOver = existing.expired || (existing.state === 'running' && existing.abandoned && Buffer.compare(existing.request_hash, hash) === 0);
  if (takeOver) {
    await tx
      .updateTable('app.idempotency_keys')
      .set({
        request_hash: hash,
        state: 'running',
        response_status: null,
        response_content_type: null,
        response_body: null,
        locked_until: sql<Date>`now() + make_interval(secs => ${IDEMPOTENCY_LOCK_SECONDS})`,
        expires_at: sql<Date>`now() + make_interval(secs => ${IDEMPOTENCY_TTL_SECONDS})`,
      })
      .where('shop_id', '=', shopId)
      .where('key', '=', key)
      .execute();
    return { kind: 'claimed' };
  }
  if (Buffer.compare(existing.request_hash, hash) !== 0) return { kind: 'mismatch' };
  if (existing.state === 'running') return { kind: 'running' };
  return { kind: 'replay', status: existing.response_status!, contentType: existing.response_content_type, body: existing.response_body ?? '' };
}

/** Stores the finished request's response for replay. */
export async function completeIdempotencyKey(db: Db, shopId: string, key: string, response: { status: number; contentType: string | null; body: string }): Promise<void> {
  await withShop(db, shopId, (tx) =>
    tx
      .updateTable('app.idempotency_keys')
      .set({ state: 'done', response_status: response.status, response_content_type: response.contentType, response_body: response.body })
      .where('shop_id', '=', shopId)
      .where('key', '=', key)
      .where('state', '=', 'running')
      .execute(),
  );
}

/** Gives the key up (the request failed in a way worth retrying, e.g. a 5xx). */
export async function releaseIdempotencyKey(db: Db, shopId: string, key: string): Promise<void> {
  await withShop(db, shopId, (tx) => tx.deleteFrom('app.idempotency_keys').where('shop_id', '=', shopId).where('key', '=', key).where('state', '=', 'running').execute());
}

/** Deletes the keys past their 24 hours, in every shop (the idempotency_sweep cron task); returns how many. */
export async function sweepIdempotencyKeys(db: Db): Promise<number> {
  const { rows } = await sql<{ deleted: number }>`select app_private.idempotency_sweep() as deleted`.execute(db);
  return rows[0]?.deleted ?? 0;
}
