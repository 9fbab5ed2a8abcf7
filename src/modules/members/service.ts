// Shop staff and their roles: list, change a role, remove, unlock. The rules live here,
// checked under a lock on the shop's memberships so that two concurrent changes cannot both
// remove "the other" owner; each change writes its own audit row.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { AppError } from '../../lib/app-error.js';
import { audit } from '../audit/service.js';
import type { Member, MemberRole, RoleChanged } from './schemas.js';

/** An actor with their role in the shop: who may touch ownership depends on it. */
export type StaffActor = Actor & { role: MemberRole };

export async function listMembers(tx: Tx, shopId: string): Promise<Member[]> {
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
export async function changeRole(tx: Tx, actor: StaffActor, targetUserId: string, role: MemberRole): Promise<RoleChanged> {
  const shopId = actor.shopId;
  const members = await lockedMemberships(tx, shopId);
  const target = members.find((m) => m.user_id === targetUserId);
  if (!target) throw notFound();
  if ((target.role === 'owner' || role === 'owner') && actor.role !== 'owner') {
    throw new AppError(403, 'FORBIDDEN', 'Only an owner can grant or remove ownership');
  }
  if (target.role === 'owner' && role !== 'owner' && members.filter((m) => m.role === 'owner').length === 1) {
    throw new AppError(409, 'LAST_OWNER', 'A shop must keep at least one owner');
  }
  await tx.updateTable('app.memberships').set({ role }).where('shop_id', '=', shopId).where('user_id', '=', targetUserId).execute();
  await audit(tx, actor, { action: 'member.role_change', resourceType: 'user', resourceId: targetUserId, result: 'success', metadata: { from: target.role, to: role } });
  return { userId: targetUserId, role };
}

/** Removal. Admins cannot remove owners; the last owner cannot be removed. */
export async function removeMember(tx: Tx, actor: StaffActor, targetUserId: string): Promise<void> {
  const shopId = actor.shopId;
  const members = await lockedMemberships(tx, shopId);
  const target = members.find((m) => m.user_id === targetUserId);
  if (!target) throw notFound();
  if (target.role === 'owner' && actor.role !== 'owner') throw new AppError(403, 'FORBIDDEN', 'Admins cannot remove owners');
  if (target.role === 'owner' && members.filter((m) => m.role === 'owner').length === 1) {
    throw new AppError(409, 'LAST_OWNER', 'A shop must keep at least one owner');
  }
  await tx.deleteFrom('app.memberships').where('shop_id', '=', shopId).where('user_id', '=', targetUserId).execute();
  await audit(tx, actor, { action: 'member.remove', resourceType: 'user', resourceId: targetUserId, result: 'success', metadata: { role: target.role } });
}

/**
 * Clears a member's sign-in lockout. The users row is not the shop's to write (its policy
 * lets a user write only their own), so one narrow function does it, and only for a member
 * of the caller's shop: anyone else is 404.
 */
export async function unlockMember(tx: Tx, actor: Actor, targetUserId: string): Promise<void> {
  const { rows } = await sql<{ unlocked: boolean }>`select app_private.unlock_member(${targetUserId}) as unlocked`.execute(tx);
  if (rows[0]?.unlocked !== true) throw notFound();
  await audit(tx, actor, { action: 'auth.unlock', resourceType: 'user', resourceId: targetUserId, result: 'success' });
}
