// The signed-in user's own security events, read from the audit log: the account-level
// rows (no shop) that the auth service writes about them. Another user's rows are not
// filtered out here but invisible: the policy audit_events_read_own_account shows a
// shop-less row only to the user in app.user_id (migrations/0080).
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import { afterCreatedAtId } from '../../lib/cursor.js';

/**
 * What counts as a security event. Successful sign-ins are not listed (the sessions list
 * shows those); failed ones, lockouts, a refresh token presented twice (a stolen token) and
 * every way a session ends early are.
 */
export const SECURITY_ACTIONS = [
  'auth.login',
  'auth.lockout',
  'auth.refresh_reuse',
  'auth.refresh_fingerprint_changed',
  'auth.session_revoke',
  'auth.logout',
  'auth.logout_all',
  'auth.password_change',
] as const;

export interface SecurityEventRow {
  id: string;
  action: string;
  result: string;
  resource_type: string | null;
  resource_id: string | null;
  user_agent: string | null;
  metadata: unknown;
  created_at: Date | string;
  created_at_text: string;
}

export async function listOwnSecurityEvents(tx: Tx, userId: string, page: { limit: number; after: [string, string] | null }): Promise<SecurityEventRow[]> {
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
  return (await query.execute()) as SecurityEventRow[];
}
