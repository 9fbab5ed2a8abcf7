// Shop staff: list, change role, remove, unlock. Ids are user ids; another shop's are 404.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { readInShop, withShop } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { authOf, requireAuth } from '../../plugins/auth.js';
import { auditFields, clientInfo, recordAuditEvent } from '../audit/service.js';
import { requirePermission } from '../../plugins/permissions.js';
import { normalizeEmail } from '../auth/service.js';
import { acceptInvitation, createInvitation, invitationForToken, listInvitations, revokeInvitation } from './invitations.js';
import { changeRole, listMembers, removeMember, unlockMember } from './service.js';
import { withUser } from '../../db/with-shop.js';

const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
const Member = Type.Object(
  // email is null for a Shopify staff identity (signed in through the embedded app).
  { userId: Type.String(), email: Type.Union([Type.String(), Type.Null()]), role: Role, locked: Type.Boolean(), createdAt: Type.String() },
  { additionalProperties: false },
);
const Params = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const Invitation = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    role: Role,
    createdAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time' }),
    status: Type.Union([Type.Literal('pending'), Type.Literal('accepted'), Type.Literal('revoked'), Type.Literal('expired')]),
  },
  { additionalProperties: false },
);

export const memberRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const audit = (request: FastifyRequest) => auditFields(app.config.ipHashSecret, clientInfo(request));

  app.get(
    '/api/v1/members',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['members'],
        summary: "The shop's staff",
        security: [{ bearerAuth: [] }],
        response: { 200: Type.Object({ items: Type.Array(Member), nextCursor: Type.Null() }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      // Staff lists are small (a shop has a handful of people): one page.
      return { items: await readInShop(app.db, shopId, (tx) => listMembers(tx, shopId), userId), nextCursor: null };
    },
  );

  app.patch(
    '/api/v1/members/:id',
    {
      preHandler: requirePermission('members.manage'),
      schema: {
        tags: ['members'],
        summary: "Change a member's role (owners only for ownership; the last owner stays)",
        security: [{ bearerAuth: [] }],
        params: Params,
        body: Type.Object({ role: Role }, { additionalProperties: false }),
        response: { 200: Type.Object({ userId: Type.String(), role: Role }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId, role } = authOf(request);
      const target = request.params.id;
      await withShop(
        app.db,
        shopId,
        async (tx) => {
          const previous = await changeRole(tx, shopId, role, target, request.body.role);
          await recordAuditEvent(tx, { shopId, userId, action: 'member.role_change', resourceType: 'user', resourceId: target, result: 'success', metadata: { from: previous, to: request.body.role }, ...audit(request) });
        },
        userId,
      );
      return { userId: target, role: request.body.role };
    },
  );

  app.delete(
    '/api/v1/members/:id',
    {
      preHandler: requirePermission('members.manage'),
      schema: { tags: ['members'], summary: 'Remove a member from the shop', security: [{ bearerAuth: [] }], params: Params, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      const { shopId, userId, role } = authOf(request);
      const target = request.params.id;
      await withShop(
        app.db,
        shopId,
        async (tx) => {
          const previous = await removeMember(tx, shopId, role, target);
          await recordAuditEvent(tx, { shopId, userId, action: 'member.remove', resourceType: 'user', resourceId: target, result: 'success', metadata: { role: previous }, ...audit(request) });
        },
        userId,
      );
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/members/:id/unlock',
    {
      preHandler: requirePermission('members.manage'),
      schema: { tags: ['members'], summary: "Clear a member's sign-in lockout", security: [{ bearerAuth: [] }], params: Params, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      const { shopId, userId } = authOf(request);
      const target = request.params.id;
      const unlocked = await withShop(
        app.db,
        shopId,
        async (tx) => {
          if (!(await unlockMember(tx, target))) return false;
          await recordAuditEvent(tx, { shopId, userId, action: 'auth.unlock', resourceType: 'user', resourceId: target, result: 'success', ...audit(request) });
          return true;
        },
        userId,
      );
      if (!unlocked) throw new AppError(404, 'NOT_FOUND', 'Member not found');
      return reply.code(204).send(null);
    },
  );
  app.post(
    '/api/v1/members',
    {
      preHandler: requirePermission('members.manage'),
      config: { idempotent: true },
      schema: {
        tags: ['members'],
        summary: 'Invite someone to the shop by e-mail (they accept signed in as that address)',
        description:
          'The answer is the same whether or not the address has a Pigeon account. The invitation token reaches the invitee by e-mail (the invitation row is the outbox); the response never contains it. A pending invitation for the same address is replaced. Only owners may invite owners.',
        security: [{ bearerAuth: [] }],
        body: Type.Object({ email: Type.String({ format: 'email', minLength: 3, maxLength: 320 }), role: Role }, { additionalProperties: false }),
        response: { 201: Invitation },
      },
    },
    async (request, reply) => {
      const { shopId, userId, role } = authOf(request);
      const email = normalizeEmail(request.body.email);
      const invitation = await withShop(
        app.db,
        shopId,
        async (tx) => {
          const created = await createInvitation(tx, app.keyRing, { shopId, actorUserId: userId, actorRole: role, email, role: request.body.role });
          await recordAuditEvent(tx, { shopId, userId, action: 'member.invite', resourceType: 'invitation', resourceId: created.invitation.id, result: 'success', metadata: { role: request.body.role }, ...audit(request) });
          return created.invitation;
        },
        userId,
      );
      return reply.code(201).send(invitation);
    },
  );

  app.get(
    '/api/v1/members/invitations',
    {
      preHandler: requirePermission('members.manage'),
      schema: {
        tags: ['members'],
        summary: 'Pending invitations (newest first)',
        security: [{ bearerAuth: [] }],
        response: { 200: Type.Object({ items: Type.Array(Invitation), nextCursor: Type.Null() }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return { items: await readInShop(app.db, shopId, (tx) => listInvitations(tx, shopId), userId), nextCursor: null };
    },
  );

  app.delete(
    '/api/v1/members/invitations/:id',
    {
      preHandler: requirePermission('members.manage'),
      schema: { tags: ['members'], summary: 'Revoke a pending invitation', security: [{ bearerAuth: [] }], params: Params, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      const { shopId, userId } = authOf(request);
      const revoked = await withShop(
        app.db,
        shopId,
        async (tx) => {
          if (!(await revokeInvitation(tx, shopId, request.params.id))) return false;
          await recordAuditEvent(tx, { shopId, userId, action: 'member.invitation_revoke', resourceType: 'invitation', resourceId: request.params.id, result: 'success', ...audit(request) });
          return true;
        },
        userId,
      );
      if (!revoked) throw new AppError(404, 'NOT_FOUND', 'Invitation not found');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/invitations/accept',
    {
      preHandler: requireAuth,
      // A token is 256 random bits; the limit only keeps the endpoint from being a free oracle.
      config: { rateLimit: { max: 10, timeWindow: '15 minutes' } },
      schema: {
        tags: ['members'],
        summary: 'Accept an invitation, signed in as the invited address',
        description: 'Single use. An unknown, expired, revoked or used token, or one for another address, is the same 404. Switch to the shop afterwards with POST /api/v1/shops/{shopId}/switch.',
        security: [{ bearerAuth: [] }],
        body: Type.Object({ token: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ shopId: Type.String({ format: 'uuid' }), role: Role }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { userId } = authOf(request);
      const found = await withUser(app.db, userId, (tx) => invitationForToken(tx, request.body.token));
      if (!found) throw new AppError(404, 'INVITATION_NOT_FOUND', 'The invitation does not exist, has expired or was already used');
      const { role } = await withShop(
        app.db,
        found.shopId,
        async (tx) => {
          const accepted = await acceptInvitation(tx, found.shopId, found.invitationId, userId);
          await recordAuditEvent(tx, { shopId: found.shopId, userId, action: 'member.add', resourceType: 'user', resourceId: userId, result: 'success', metadata: { role: accepted.role, invitationId: found.invitationId }, ...audit(request) });
          return accepted;
        },
        userId,
      );
      return { shopId: found.shopId, role };
    },
  );
};
