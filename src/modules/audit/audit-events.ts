// The shop's audit log as its owners and admins read it: newest first, filtered by action
// and time, paged by (created_at, id).
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { afterCreatedAtId } from '../../lib/cursor.js';
import type { AuditEvent, AuditEventFilters, EventPage } from './schemas.js';

/** The first `limit` rows as views; `next` is the key of the last one when more follow. */
export function pageOf<R extends { id: string; created_at_text: string }, V>(rows: R[], limit: number, view: (row: R) => V): EventPage<V> {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items: items.map(view), next: rows.length > limit && last ? [last.created_at_text, last.id] : null };
}

export async function listAuditEvents(tx: Tx, shopId: string, filters: AuditEventFilters): Promise<EventPage<AuditEvent>> {
  const { limit, action, from, to, after } = filters;
  if (from && to && new Date(from) > new Date(to)) throw new AppError(400, 'INVALID_RANGE', '`from` is after `to`', { field: 'querystring.from' });
  let query = tx
    .selectFrom('app.audit_events')
    .selectAll()
    // Full microsecond precision for the cursor: a JS Date would round to milliseconds
    // and skip events that share one.
    .select(sql<string>`created_at::text`.as('created_at_text'))
    .where('shop_id', '=', shopId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit + 1);
  if (action) query = query.where('action', '=', action);
  if (from) query = query.where('created_at', '>=', new Date(from));
  if (to) query = query.where('created_at', '<', new Date(to));
  if (after) query = query.where(afterCreatedAtId(after, '<'));
  return pageOf(await query.execute(), limit, (e) => ({
    id: e.id,
    action: e.action,
    result: e.result,
    userId: e.user_id,
    resourceType: e.resource_type,
    resourceId: e.resource_id,
    ipHash: e.ip_hash,
    userAgent: e.user_agent,
    requestId: e.request_id,
    metadata: e.metadata as Record<string, unknown>,
    createdAt: new Date(e.created_at).toISOString(),
  }));
}
