// Shop staff and invitations: HTTP only. Each route reads the request, calls one operation
// through inShop / readShop (acceptance, a workflow across two transactions, takes the
// request's actor), and shapes the reply. Ids are user ids or invitation ids; another
// shop's are 404.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../lib/actor.js';
import { authOf, requireAuth } from '../../plugins/auth.js';
import { requirePermission } from '../../plugins/permissions.js';
import { actorOf, inShop, readShop } from '../../plugins/shop-request.js';
import { acceptInvitationByToken, createInvitation, listInvitations, revokeInvitation } from './invitations.js';
import { AcceptedInvitation, Invitation, InvitationAcceptance, InvitationInput, InvitationList, MemberList, MemberParams, RoleChange, RoleChanged } from './schemas.js';
import { changeRole, listMembers, removeMember, unlockMember, type StaffActor } from './service.js';

// The ownership rules depend on the caller's role in the shop, which the session carries.
const staff = (request: FastifyRequest, actor: Actor): StaffActor => ({ ...actor, role: authOf(request).role });

export const memberRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.get(
    '/api/v1/members',
    { preHandler: requireAuth, schema: { tags: ['members'], summary: "The shop's staff", security, response: { 200: MemberList } } },
    async (request) => ({ items: await readShop(request, (tx, actor) => listMembers(tx, actor.shopId)), nextCursor: null }),
  );

  app.patch(
    '/api/v1/members/:id',
    {
      preHandler: requirePermission('members.manage'),
      schema: {
        tags: ['members'],
        summary: "Change a member's role (owners only for ownership; the last owner stays)",
        security,
        params: MemberParams,
        body: RoleChange,
        response: { 200: RoleChanged },
      },
    },
    async (request) => inShop(request, (tx, actor) => changeRole(tx, staff(request, actor), request.params.id, request.body.role)),
  );

  app.delete(
    '/api/v1/members/:id',
    { preHandler: requirePermission('members.manage'), schema: { tags: ['members'], summary: 'Remove a member from the shop', security, params: MemberParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await inShop(request, (tx, actor) => removeMember(tx, staff(request, actor), request.params.id));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/members/:id/unlock',
    { preHandler: requirePermission('members.manage'), schema: { tags: ['members'], summary: "Clear a member's sign-in lockout", security, params: MemberParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await inShop(request, (tx, actor) => unlockMember(tx, actor, request.params.id));
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
        security,
        body: InvitationInput,
        response: { 201: Invitation },
      },
    },
    async (request, reply) => {
      const { invitation } = await inShop(request, (tx, actor) => createInvitation(tx, staff(request, actor), app.keyRing, request.body));
      return reply.code(201).send(invitation);
    },
  );

  app.get(
    '/api/v1/members/invitations',
    { preHandler: requirePermission('members.manage'), schema: { tags: ['members'], summary: 'Pending invitations (newest first)', security, response: { 200: InvitationList } } },
    async (request) => ({ items: await readShop(request, (tx, actor) => listInvitations(tx, actor.shopId)), nextCursor: null }),
  );

  app.delete(
    '/api/v1/members/invitations/:id',
    { preHandler: requirePermission('members.manage'), schema: { tags: ['members'], summary: 'Revoke a pending invitation', security, params: MemberParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await inShop(request, (tx, actor) => revokeInvitation(tx, actor, request.params.id));
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
        security,
        body: InvitationAcceptance,
        response: { 200: AcceptedInvitation },
      },
    },
    async (request) => acceptInvitationByToken(app.db, actorOf(request), request.body.token),
  );
};
