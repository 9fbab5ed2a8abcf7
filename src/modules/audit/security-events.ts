// The signed-in user's own security events, read from the audit log: the account-level
// rows (no shop) that the auth service writes about them. Read in the user's context only
// (withUser): these rows belong to the account, not to the current shop. Another user's
// rows are not filtered out here but invisible: the policy audit_events_read_own_account
// shows a shop-less row only to the user in app.user_id (migrations/0080).
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withUser } from '../../db/with-shop.js';
import { afterCreatedAtId } from '../../lib/cursor.js';
import { pageOf } from './audit-events.js';
import { SECURITY_ACTIONS, type EventPage, type SecurityEvent } from './schemas.js';

export async function listOwnSecurityEvents(db: Db, userId: string, page: { limit: number; after: [string, string] | null }): Promise<EventPage<SecurityEvent>> {
  const rows = await withUser(db, userId, (tx) => {
    let query = tx
      .selectFrom('app.audit_events')
      .select(['id', 'action', 'result', 'resource_type', 'resource_id', 'user_agent', 'metadata', 'created_at'])
      // Microseconds kept for the cursor (a JS Date rounds to milliseconds).
      .select(sql<string>`created_at::text`.as('created_at_text'))
      .where('shop_id', 'is', null)
      .where('user_id', '=', userId)
      .where('action', 'in', SECURITY_ACTIONS)
      // A successful sign-in is not a security event; a failed one is.
      .where((eb) => eb.or([eb('action', '!=', 'auth.login'), eb('result', '!=', 'success')]))
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(page.limit + 1);
    if (page.after) query = query.where(afterCreatedAtId(page.after, '<'));
    return query.execute();
  });
  return pageOf(rows, page.limit, (e) => ({
    id: e.id,
    action: e.action as SecurityEvent['action'],
    result: e.result as SecurityEvent['result'],
    resourceType: e.resource_type,
    resourceId: e.resource_id,
    userAgent: e.user_agent,
    metadata: (e.metadata ?? {}) as Record<string, unknown>,
    createdAt: new Date(e.created_at).toISOString(),
  }));
}
