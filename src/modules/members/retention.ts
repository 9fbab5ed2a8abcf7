// Retention for invitations: the invitee's e-mail address is kept while the invitation can
// still be accepted, and until the shop's cut-off after it ended (accepted, revoked or
// expired), for the staff's own "who did we invite" history; then the row is deleted.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';

export async function deleteInvitationsEndedBefore(tx: Tx, shopId: string, cutoff: Date): Promise<number> {
  const result = await tx
    .deleteFrom('app.member_invitations')
    .where('shop_id', '=', shopId)
    .where(sql<boolean>`least(accepted_at, revoked_at, expires_at) < ${cutoff}`)
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}
