// The auth plugin's per-request check: is the session live, and which role does its user
// hold in the shop now (never from the token alone). One SECURITY DEFINER lookup.
import { sql } from 'kysely';
import type { MemberRole } from '../db/database.js';
import type { Db } from '../db/kysely.js';

/** The role the session's user holds in the shop now, or null if the session is not live. */
export async function sessionRole(db: Db, sessionId: string, userId: string, shopId: string): Promise<MemberRole | null> {
  const { rows } = await sql<{ role: MemberRole | null }>`select app_private.session_role(${sessionId}, ${userId}, ${shopId}) as role`.execute(db);
  return rows[0]?.role ?? null;
}
