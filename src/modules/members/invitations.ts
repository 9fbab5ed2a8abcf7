// Staff invitations. An admin invites an e-mail address with a role; the invitee accepts
// signed in as the account with that address (signing up first if they have none). The
// answer to an invitation never depends on whether the address has an account, so the
// staff screen cannot be used to find out who uses Pigeon.
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { MemberRole } from '../../db/database.js';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { encrypt, type KeyRing } from '../../lib/key-ring.js';
import { tokenHash } from '../../lib/keyed-hash.js';

export const INVITATION_TTL_SECONDS = 7 * 86400;

export interface InvitationView {
  id: string;
  email: string;
  role: MemberRole;
  createdAt: string;
  expiresAt: string;
  status: 'pending' | 'accepted' | 'revoked' | 'expired';
}

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

function view(row: InvitationRow): InvitationView {
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
export async function createInvitation(
  tx: Tx,
  ring: KeyRing,
  input: { shopId: string; actorUserId: string; actorRole: MemberRole; email: string; role: MemberRole },
): Promise<{ invitation: InvitationView; token: string }> {
  if (input.role === 'owner' && input.actorRole !== 'owner') throw new AppError(403, 'FORBIDDEN', 'Only an owner can invite an owner');
  const member = await tx
    .selectFrom('app.memberships as m')
    .innerJoin('app.users as u', 'u.id', 'm.user_id')
    .select('m.user_id')
    .where('m.shop_id', '=', input.shopId)
    .where(sql<boolean>`u.email = ${input.email}::citext`)
    .executeTakeFirst();
  if (member) throw new AppError(409, 'ALREADY_MEMBER', 'This address already belongs to a member of the shop');
  await tx
    .updateTable('app.member_invitations')
    .set({ revoked_at: new Date() })
    .where('shop_id', '=', input.shopId)
    .where(sql<boolean>`email = ${input.email}::citext`)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .execute();
  const id = randomUUID();
  const token = randomBytes(32).toString('base64url'); // 256 random bits
  const row = await tx
    .insertInto('app.member_invitations')
    .values({
      shop_id: input.shopId,
      id,
      email: input.email,
      role: input.role,
      token_hash: tokenHash(token),
      token_ciphertext: encrypt(ring, token, tokenAad(input.shopId, id)),
      invited_by: input.actorUserId,
      expires_at: new Date(Date.now() + INVITATION_TTL_SECONDS * 1000),
    })
    .returning(columns)
    .executeTakeFirstOrThrow();
  return { invitation: view(row), token };
}

export async function listInvitations(tx: Tx, shopId: string): Promise<InvitationView[]> {
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

/** Revokes a pending invitation; false when there is none with this id in the shop. */
export async function revokeInvitation(tx: Tx, shopId: string, invitationId: string): Promise<boolean> {
  const result = await tx
    .updateTable('app.member_invitations')
    .set({ revoked_at: new Date() })
    .where('shop_id', '=', shopId)
    .where('id', '=', invitationId)
    .where('accepted_at', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Which shop and invitation a live token names, or null. Runs with no tenant set. */
export async function invitationForToken(tx: Tx, token: string): Promise<{ shopId: string; invitationId: string } | null> {
  const { rows } = await sql<{ shop_id: string; id: string }>`select shop_id, id from app_private.invitation_for_token(${tokenHash(token)})`.execute(tx);
  const row = rows[0];
  return row ? { shopId: row.shop_id, invitationId: row.id } : null;
}

/**
 * Accepts an invitation as userId, inside withShop(the invitation's shop, userId). Single
 * use: the invitation row is locked and marked accepted in the same transaction that adds
 * the membership. The signed-in account's address must be the invited one.
 */
export async function acceptInvitation(tx: Tx, shopId: string, invitationId: string, userId: string): Promise<{ role: MemberRole }> {
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
  return { role: invitation.role };
}

const invalidInvitation = () => new AppError(404, 'INVITATION_NOT_FOUND', 'The invitation does not exist, has expired or was already used');
