// GET /api/v1/audit-events: the shop's audit log, for owners and admins.
// GET /api/v1/me/security-events: the signed-in user's own account events, for everyone.
// HTTP only: each reads the request, calls one operation and shapes the reply.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { authOf, requireAuth } from '../../plugins/auth.js';
import { requirePermission } from '../../plugins/permissions.js';
import { readShop } from '../../plugins/shop-request.js';
import { listAuditEvents } from './audit-events.js';
import { AuditEventList, AuditEventListQuery, SecurityEventList, SecurityEventListQuery } from './schemas.js';
import { listOwnSecurityEvents } from './security-events.js';

const afterOf = (cursor: string | undefined) => (cursor ? (decodeCursor(cursor, ['string', 'string']) as [string, string]) : null);
const nextCursorOf = (next: [string, string] | null) => (next ? encodeCursor(next) : null);

export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/v1/me/security-events',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['auth'],
        summary: "The signed-in user's own security events, newest first: failed sign-ins, lockouts, refresh-token reuse, session revocations",
        security: [{ bearerAuth: [] }],
        querystring: SecurityEventListQuery,
        response: { 200: SecurityEventList },
      },
    },
    async (request) => {
      const { limit, cursor } = request.query;
      const page = await listOwnSecurityEvents(app.db, authOf(request).userId, { limit, after: afterOf(cursor) });
      return { items: page.items, nextCursor: nextCursorOf(page.next) };
    },
  );

  app.get(
    '/api/v1/audit-events',
    {
      preHandler: requirePermission('audit.read'),
      schema: {
        tags: ['audit'],
        summary: "The shop's audit log, newest first (owners and admins)",
        security: [{ bearerAuth: [] }],
        querystring: AuditEventListQuery,
        response: { 200: AuditEventList },
      },
    },
    async (request) => {
      const { cursor, ...filters } = request.query;
      const page = await readShop(request, (tx, actor) => listAuditEvents(tx, actor.shopId, { ...filters, after: afterOf(cursor) }));
      return { items: page.items, nextCursor: nextCursorOf(page.next) };
    },
  );
};
