// Sessions end (expire or are revoked) but their rows stayed for ever. They belong to
// users, not shops, so no shop's retention applies: a session is deleted 30 days after it
// ended, with its refresh tokens (ON DELETE CASCADE). The worker runs it with no tenant;
// the policies of migrations/0071 let it see and delete only sessions that ended more than
// 30 days ago, so this statement could not end a live session even if it asked to.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withoutTenant } from '../../db/with-shop.js';

export const ENDED_SESSION_RETENTION_DAYS = 30;

/** The statement says what the policy allows, in the database's clock, so the two agree. */
export async function sweepEndedSessions(db: Db): Promise<number> {
  const result = await withoutTenant(db, (tx) =>
    tx
      .deleteFrom('app.sessions')
      .where(sql<boolean>`least(revoked_at, expires_at) < now() - make_interval(days => ${ENDED_SESSION_RETENTION_DAYS})`)
      .executeTakeFirst(),
  );
  return Number(result.numDeletedRows);
}
