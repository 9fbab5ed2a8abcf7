// Shop staff: list, change role, remove, unlock. Ids are user ids; another shop's are 404.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { withShop } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { authOf, requireAuth } from '../../plugins/auth.js';
import { auditFields, clientInfo, recordAuditEvent } from '../audit/service.js';
import { requirePermission } from '../auth/permissions.js';
import { changeRole, listMembers, removeMember, unlockMember } from './service.js';

const Role = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
const Member = Type.Object(
  { userId: Type.String(), email: Type.String(), role: Role, locked: Type.Boolean(), createdAt: Type.String() },
  { additionalProperties: false },
);
const Params = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

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
      return { items: await withShop(app.db, shopId, (tx) => listMembers(tx, shopId), userId), nextCursor: null };
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
};
