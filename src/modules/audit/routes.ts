// GET /api/v1/audit-events: the shop's audit log, for owners and admins.
// GET /api/v1/me/security-events: the signed-in user's own account events, for everyone.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import { readInShop, withUser } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { afterCreatedAtId, decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { authOf, requireAuth } from '../../plugins/auth.js';
import { requirePermission } from '../../plugins/permissions.js';
import { listOwnSecurityEvents, SECURITY_ACTIONS } from './security-events.js';

const AuditEvent = Type.Object(
  {
    id: Type.String(),
    action: Type.String(),
    result: Type.String(),
    userId: Type.Union([Type.String(), Type.Null()]),
    resourceType: Type.Union([Type.String(), Type.Null()]),
    resourceId: Type.Union([Type.String(), Type.Null()]),
    ipHash: Type.Union([Type.String(), Type.Null()]),
    userAgent: Type.Union([Type.String(), Type.Null()]),
    requestId: Type.Union([Type.String(), Type.Null()]),
    metadata: Type.Record(Type.String(), Type.Unknown()),
    createdAt: Type.String(),
  },
  { additionalProperties: false },
);

const SecurityEvent = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    action: Type.Union(SECURITY_ACTIONS.map((a) => Type.Literal(a))),
    result: Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')]),
    resourceType: Type.Union([Type.String(), Type.Null()]),
    resourceId: Type.Union([Type.String(), Type.Null()], { description: 'The session, for session events' }),
    userAgent: Type.Union([Type.String(), Type.Null()]),
    metadata: Type.Record(Type.String(), Type.Unknown(), { description: 'e.g. the reason of a failure' }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'SecurityEvent', additionalProperties: false },
);

export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/v1/me/security-events',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['auth'],
        summary: "The signed-in user's own security events, newest first: failed sign-ins, lockouts, refresh-token reuse, session revocations",
        security: [{ bearerAuth: [] }],
        querystring: Type.Object(
          { limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(SecurityEvent), nextCursor: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { userId } = authOf(request);
      const { limit, cursor } = request.query;
      const after = cursor ? (decodeCursor(cursor, ['string', 'string']) as [string, string]) : null;
      // The user's context only: these rows belong to the account, not to the current shop.
      const rows = await withUser(app.db, userId, (tx) => listOwnSecurityEvents(tx, userId, { limit, after }));
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((e) => ({
          id: e.id,
          action: e.action as (typeof SECURITY_ACTIONS)[number],
          result: e.result as 'success' | 'failure' | 'denied',
          resourceType: e.resource_type,
          resourceId: e.resource_id,
          userAgent: e.user_agent,
          metadata: (e.metadata ?? {}) as Record<string, unknown>,
          createdAt: new Date(e.created_at).toISOString(),
        })),
        nextCursor: rows.length > limit && last ? encodeCursor([last.created_at_text, last.id]) : null,
      };
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
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            action: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_.]{1,63}$' })),
            from: Type.Optional(Type.String({ format: 'date-time' })),
            to: Type.Optional(Type.String({ format: 'date-time' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(AuditEvent), nextCursor: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const { limit, cursor, action, from, to } = request.query;
      if (from && to && new Date(from) > new Date(to)) throw new AppError(400, 'INVALID_RANGE', '`from` is after `to`', { field: 'querystring.from' });
      const after = cursor ? decodeCursor(cursor, ['string', 'string']) : null;
      const rows = await readInShop(
        app.db,
        shopId,
        async (tx) => {
          let query = tx
            .selectFrom('app.audit_events')
            .selectAll()
            // Full microsecond precision for the cursor: a JS Date would round to milliseconds
            // and skip events that share one.
            .select(sql<string>`created_at::text`.as('created_at_text'))
            .where('shop_id', '=', shopId)
            .orderBy('created_at', 'desc')
            .orderBy('id', 'desc')
            .limit(limit + 1);
          if (action) query = query.where('action', '=', action);
          if (from) query = query.where('created_at', '>=', new Date(from));
          if (to) query = query.where('created_at', '<', new Date(to));
          if (after) query = query.where(afterCreatedAtId(after as [string, string], '<'));
          return query.execute();
        },
        userId,
      );
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        items: page.map((e) => ({
          id: e.id,
          action: e.action,
          result: e.result,
          userId: e.user_id,
          resourceType: e.resource_type,
          resourceId: e.resource_id,
          ipHash: e.ip_hash,
          userAgent: e.user_agent,
          requestId: e.request_id,
          metadata: e.metadata,
          createdAt: new Date(e.created_at).toISOString(),
        })),
        nextCursor: rows.length > limit && last ? encodeCursor([last.created_at_text, last.id]) : null,
      };
    },
  );
};
