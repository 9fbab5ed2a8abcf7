// Shop staff and their roles. The rules live here, checked under a lock on the shop's
// memberships so that two concurrent changes cannot both remove "the other" owner.
import { sql } from 'kysely';
import type { MemberRole } from '../../db/database.js';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';

export interface MemberView {
  userId: string;
  email: string | null;
  role: MemberRole;
  locked: boolean;
  createdAt: string;
}

export async function listMembers(tx: Tx, shopId: string): Promise<MemberView[]> {
  const rows = await tx
    .selectFrom('app.memberships as m')
    .innerJoin('app.users as u', 'u.id', 'm.user_id')
    .select(['m.user_id', 'u.email', 'm.role', 'u.locked_until', 'm.created_at'])
    .where('m.shop_id', '=', shopId)
    .orderBy('m.created_at')
    .execute();
  return rows.map((r) => ({
    userId: r.user_id,
    email: r.email,
    role: r.role,
    locked: r.locked_until !== null && new Date(r.locked_until).getTime() > Date.now(),
    createdAt: new Date(r.created_at).toISOString(),
  }));
}

async function lockedMemberships(tx: Tx, shopId: string) {
  // FOR UPDATE on every membership of the shop: owner-count rules see a stable set.
  return tx.selectFrom('app.memberships').select(['user_id', 'role']).where('shop_id', '=', shopId).forUpdate().execute();
}

const notFound = () => new AppError(404, 'NOT_FOUND', 'Member not found');

/** Role change. Only owners may grant or take away ownership; the last owner stays owner. */
export async function changeRole(tx: Tx, shopId: string, actorRole: MemberRole, targetUserId: string, role: MemberRole): Promise<MemberRole> {
  const members = await lockedMemberships(tx, shopId);
  const target = members.find((m) => m.user_id === targetUserId);
  if (!target) throw notFound();
  if ((target.role === 'owner' || role === 'owner') && actorRole !== 'owner') {
    throw new AppError(403, 'FORBIDDEN', 'Only an owner can grant or remove ownership');
  }
  if (target.role === 'owner' && role !== 'owner' && members.filter((m) => m.role === 'owner').length === 1) {
    throw new AppError(409, 'LAST_OWNER', 'A shop must keep at least one owner');
  }
  await tx.updateTable('app.memberships').set({ role }).where('shop_id', '=', shopId).where('user_id', '=', targetUserId).execute();
  return target.role;
}

/** Removal. Admins cannot remove owners; the last owner cannot be removed. */
export async function removeMember(tx: Tx, shopId: string, actorRole: MemberRole, targetUserId: string): Promise<MemberRole> {
  const members = await lockedMemberships(tx, shopId);
  const target = members.find((m) => m.user_id === targetUserId);
  if (!target) throw notFound();
  if (target.role === 'owner' && actorRole !== 'owner') throw new AppError(403, 'FORBIDDEN', 'Admins cannot remove owners');
  if (target.role === 'owner' && members.filter((m) => m.role === 'owner').length === 1) {
    throw new AppError(409, 'LAST_OWNER', 'A shop must keep at least one owner');
  }
  await tx.deleteFrom('app.memberships').where('shop_id', '=', shopId).where('user_id', '=', targetUserId).execute();
  return target.role;
}

/** Clears a member's lockout; false when the user is not a member of this shop. */
export async function unlockMember(tx: Tx, targetUserId: string): Promise<boolean> {
  const { rows } = await sql<{ unlocked: boolean }>`select app_private.unlock_member(${targetUserId}) as unlocked`.execute(tx);
  return rows[0]?.unlocked === true;
}
