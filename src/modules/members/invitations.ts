// Staff invitations. An admin invites an e-mail address with a role; the invitee accepts
// signed in as the account with that address (signing up first if they have none). The
// answer to an invitation never depends on whether the address has an account, so the
// staff screen cannot be used to find out who uses Pigeon. Each change writes its own
// audit row. Acceptance by token is a workflow over the pool: the token names its shop only
// once it has been looked up outside any shop.
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withShop, withUser, type Tx } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { AppError } from '../../lib/app-error.js';
import { encrypt, type KeyRing } from '../../lib/key-ring.js';
import { tokenHash } from '../../lib/keyed-hash.js';
import { audit } from '../audit/service.js';
import { normalizeEmail } from '../auth/service.js';
import type { AcceptedInvitation, Invitation, InvitationInput, MemberRole } from './schemas.js';
import type { StaffActor } from './service.js';

export const INVITATION_TTL_SECONDS = 7 * 86400;

// The AAD binds the ciphertext to its row: copied into another invitation it fails.
const tokenAad = (shopId: string, invitationId: string) => `app.member_invitations.token:${shopId}:${invitationId}`;

type InvitationRow = {
  id: string;
  email: string;
  role: MemberRole;
  created_at: Date;
  expires_at: Date | string;
  accepted_at: Date | null;
  revoked_at: Date | null;
};

function view(row: InvitationRow): Invitation {
  const expiresAt = new Date(row.expires_at);
  const status = row.accepted_at ? 'accepted' : row.revoked_at ? 'revoked' : expiresAt.getTime() <= Date.now() ? 'expired' : 'pending';
  return { id: row.id, email: row.email, role: row.role, createdAt: new Date(row.created_at).toISOString(), expiresAt: expiresAt.toISOString(), status };
}

const columns = ['id', 'email', 'role', 'created_at', 'expires_at', 'accepted_at', 'revoked_at'] as const;

/**
 * A new invitation (a pending one for the same address is replaced). Only owners may
 * invite owners. The raw token is returned for the caller's tests and never to the HTTP
 * client: it reaches the invitee through the mailer, which reads the encrypted copy.
 */
export async function createInvitation(tx: Tx, actor: StaffActor, ring: KeyRing, input: InvitationInput): Promise<{ invitation: Invitation; token: string }> {
  const shopId = actor.shopId;
  const email = normalizeEmail(input.email);
  if (input.role === 'owner' && actor.role !== 'owner') throw new AppError(403, 'FORBIDDEN', 'Only an owner can invite an owner');
  const member = await tx
    .selectFrom('app.memberships as m')
    .innerJoin('app.users as u', 'u.id', 'm.user_id')
    .select('m.user_id')
    .where('m.shop_id', '=', shopId)
    .where(sql<boolean>`u.email = ${email}::citext`)
    .executeTakeFirst();
  if (member) throw new AppError(409, 'ALREADY_MEMBER', 'This address already belongs to a member of the shop');
  await tx
    .updateTable('app.member_invitations')
    .set({ revoked_at: new Date() })
    .where('shop_id', '=', shopId)
    .where(sql<boolean>`email = ${email}::citext`)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .execute();
  const id = randomUUID();
  const token = randomBytes(32).toString('base64url'); // 256 random bits
  const row = await tx
    .insertInto('app.member_invitations')
    .values({
      shop_id: shopId,
      id,
      email,
      role: input.role,
      token_hash: tokenHash(token),
      token_ciphertext: encrypt(ring, token, tokenAad(shopId, id)),
      invited_by: actor.userId,
      expires_at: new Date(Date.now() + INVITATION_TTL_SECONDS * 1000),
    })
    .returning(columns)
    .executeTakeFirstOrThrow();
  await audit(tx, actor, { action: 'member.invite', resourceType: 'invitation', resourceId: row.id, result: 'success', metadata: { role: input.role } });
  return { invitation: view(row), token };
}

export async function listInvitations(tx: Tx, shopId: string): Promise<Invitation[]> {
  const rows = await tx
    .selectFrom('app.member_invitations')
    .select(columns)
    .where('shop_id', '=', shopId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .orderBy('created_at', 'desc')
    .limit(200)
    .execute();
  return rows.map(view);
}

/** Revokes a pending invitation; one that is not pending (or another shop's) is 404. */
export async function revokeInvitation(tx: Tx, actor: Actor, invitationId: string): Promise<void> {
  const result = await tx
    .updateTable('app.member_invitations')
    .set({ revoked_at: new Date() })
    .where('shop_id', '=', actor.shopId)
    .where('id', '=', invitationId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) throw new AppError(404, 'NOT_FOUND', 'Invitation not found');
  await audit(tx, actor, { action: 'member.invitation_revoke', resourceType: 'invitation', resourceId: invitationId, result: 'success' });
}

/** Which shop and invitation a live token names, or null. Runs with no tenant set. */
async function invitationForToken(tx: Tx, token: string): Promise<{ shopId: string; invitationId: string } | null> {
  const { rows } = await sql<{ shop_id: string; id: string }>`select shop_id, id from app_private.invitation_for_token(${tokenHash(token)})`.execute(tx);
  const row = rows[0];
  return row ? { shopId: row.shop_id, invitationId: row.id } : null;
}

/**
 * Workflow: accepting an invitation by its token, as the signed-in user. Two transactions:
 * the token is looked up as the user (it names a shop the user is not yet a member of),
 * then the membership is added in that shop, and audited there.
 */
export async function acceptInvitationByToken(db: Db, actor: Actor, token: string): Promise<AcceptedInvitation> {
  // Only a signed-in person accepts; the system has no address to match.
  const userId = actor.userId;
  if (!userId) throw invalidInvitation();
  const found = await withUser(db, userId, (tx) => invitationForToken(tx, token));
  if (!found) throw invalidInvitation();
  const { role } = await withShop(db, found.shopId, (tx) => acceptInvitation(tx, { ...actor, userId, shopId: found.shopId }, found.invitationId), userId);
  return { shopId: found.shopId, role };
}

/**
 * Accepts an invitation as the actor's user, inside withShop(the invitation's shop, user).
 * Single use: the invitation row is locked and marked accepted in the same transaction that
 * adds the membership. The signed-in account's address must be the invited one.
 */
async function acceptInvitation(tx: Tx, actor: Actor & { userId: string }, invitationId: string): Promise<{ role: MemberRole }> {
  const { shopId, userId } = actor;
  const invitation = await tx
    .selectFrom('app.member_invitations')
    .select(['email', 'role', 'expires_at', 'accepted_at', 'revoked_at'])
    .where('shop_id', '=', shopId)
    .where('id', '=', invitationId)
    .forUpdate()
    .executeTakeFirst();
  if (!invitation || invitation.accepted_at || invitation.revoked_at || new Date(invitation.expires_at).getTime() <= Date.now()) {
    throw invalidInvitation();
  }
  const user = await tx.selectFrom('app.users').select('email').where('id', '=', userId).executeTakeFirst();
  if (!user?.email || user.email.toLowerCase() !== invitation.email.toLowerCase()) {
    // Same answer as a bad token: the token alone must not tell who it was for.
    throw invalidInvitation();
  }
  const inserted = await tx
    .insertInto('app.memberships')
    .values({ shop_id: shopId, user_id: userId, role: invitation.role })
    .onConflict((oc) => oc.columns(['shop_id', 'user_id']).doNothing())
    .returning('user_id')
    .executeTakeFirst();
  if (!inserted) throw new AppError(409, 'ALREADY_MEMBER', 'You are already a member of this shop');
  await tx
    .updateTable('app.member_invitations')
    .set({ accepted_at: new Date(), accepted_by: userId })
    .where('shop_id', '=', shopId)
    .where('id', '=', invitationId)
    .execute();
  await audit(tx, actor, { action: 'member.add', resourceType: 'user', resourceId: userId, result: 'success', metadata: { role: invitation.role, invitationId } });
  return { role: invitation.role };
}

const invalidInvitation = () => new AppError(404, 'INVITATION_NOT_FOUND', 'The invitation does not exist, has expired or was already used');
