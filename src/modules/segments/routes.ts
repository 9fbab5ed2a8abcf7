// Segments CRUD and counts. Another shop's segment id is 404.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { readInShop, withShop } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { authOf, requireAuth } from '../../plugins/auth.js';
import { requirePermission } from '../../plugins/permissions.js';
import { Rule, type Rule as RuleTree } from './rules.js';
import { countSegment, createSegment, deleteSegment, getSegment, listSegments, updateSegment } from './service.js';

const Segment = Type.Object(
  { id: Type.String({ format: 'uuid' }), name: Type.String(), rule: Rule, createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }) },
  { additionalProperties: false },
);
const Name = Type.String({ minLength: 1, maxLength: 200 });
const Params = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const notFound = () => new AppError(404, 'NOT_FOUND', 'Segment not found');

export const segmentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(Rule);
  const security = [{ bearerAuth: [] }];

  app.get(
    '/api/v1/segments',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['segments'],
        summary: 'Saved segments, oldest first',
        security,
        querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Segment), nextCursor: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const after = request.query.cursor ? (decodeCursor(request.query.cursor, ['string', 'string']) as [string, string]) : null;
      const page = await readInShop(app.db, shopId, (tx) => listSegments(tx, shopId, { limit: request.query.limit, after }), userId);
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.post(
    '/api/v1/segments',
    {
      preHandler: requirePermission('campaigns.write'),
      config: { idempotent: true },
      schema: {
        tags: ['segments'],
        summary: 'Save a segment (rule tree: all/any/not groups of conditions; at most 5 levels and 50 conditions)',
        security,
        body: Type.Object({ name: Name, rule: Rule }, { additionalProperties: false }),
        response: { 201: Segment },
      },
    },
    async (request, reply) => {
      const { shopId, userId } = authOf(request);
      const segment = await withShop(app.db, shopId, (tx) => createSegment(tx, shopId, userId, request.body as { name: string; rule: RuleTree }), userId);
      return reply.code(201).send(segment);
    },
  );

  app.get(
    '/api/v1/segments/:id',
    { preHandler: requireAuth, schema: { tags: ['segments'], summary: 'One segment', security, params: Params, response: { 200: Segment } } },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const segment = await readInShop(app.db, shopId, (tx) => getSegment(tx, shopId, request.params.id), userId);
      if (!segment) throw notFound();
      return segment;
    },
  );

  app.patch(
    '/api/v1/segments/:id',
    {
      preHandler: requirePermission('campaigns.write'),
      schema: {
        tags: ['segments'],
        summary: 'Rename a segment or replace its rule',
        security,
        params: Params,
        body: Type.Object({ name: Type.Optional(Name), rule: Type.Optional(Rule) }, { additionalProperties: false }),
        response: { 200: Segment },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const segment = await withShop(app.db, shopId, (tx) => updateSegment(tx, shopId, request.params.id, request.body as { name?: string; rule?: RuleTree }), userId);
      if (!segment) throw notFound();
      return segment;
    },
  );

  app.delete(
    '/api/v1/segments/:id',
    {
      preHandler: requirePermission('campaigns.write'),
      schema: { tags: ['segments'], summary: 'Delete a segment (409 while a campaign uses it)', security, params: Params, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      const { shopId, userId } = authOf(request);
      const deleted = await withShop(app.db, shopId, (tx) => deleteSegment(tx, shopId, request.params.id), userId);
      if (!deleted) throw notFound();
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/segments/:id/count',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['segments'],
        summary: 'How many live contacts the segment selects now, and how many of them are subscribed',
        security,
        params: Params,
        response: { 200: Type.Object({ contacts: Type.Integer(), subscribed: Type.Integer() }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const counted = await readInShop(
        app.db,
        shopId,
        async (tx) => {
          const segment = await getSegment(tx, shopId, request.params.id);
          return segment ? countSegment(tx, shopId, segment.rule) : null;
        },
        userId,
      );
      if (!counted) throw notFound();
      return counted;
    },
  );
};
