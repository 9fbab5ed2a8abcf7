// Segment routes: HTTP only; each calls one operation through inShop / readShop. Another
// shop's segment id is 404.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { requireAuth } from '../../plugins/auth.js';
import { requirePermission } from '../../plugins/permissions.js';
import { inShop, readShop } from '../../plugins/shop-request.js';
import { Rule } from './rules.js';
import { Segment, SegmentCount, SegmentInput, SegmentList, SegmentListQuery, SegmentParams, SegmentPatch } from './schemas.js';
import type { SegmentInput as SegmentInputType, SegmentPatch as SegmentPatchType } from './schemas.js';
import { countSegmentById, createSegment, deleteSegment, getSegment, listSegments, updateSegment } from './service.js';

export const segmentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addSchema(Rule);
  const security = [{ bearerAuth: [] }];

  app.get(
    '/api/v1/segments',
    { preHandler: requireAuth, schema: { tags: ['segments'], summary: 'Saved segments, oldest first', security, querystring: SegmentListQuery, response: { 200: SegmentList } } },
    async (request) => {
      const after = request.query.cursor ? (decodeCursor(request.query.cursor, ['string', 'string']) as [string, string]) : null;
      const page = await readShop(request, (tx, actor) => listSegments(tx, actor.shopId, { limit: request.query.limit, after }));
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
        body: SegmentInput,
        response: { 201: Segment },
      },
    },
    async (request, reply) => reply.code(201).send(await inShop(request, (tx, actor) => createSegment(tx, actor, request.body as SegmentInputType))),
  );

  app.get(
    '/api/v1/segments/:id',
    { preHandler: requireAuth, schema: { tags: ['segments'], summary: 'One segment', security, params: SegmentParams, response: { 200: Segment } } },
    async (request) => readShop(request, (tx, actor) => getSegment(tx, actor.shopId, request.params.id)),
  );

  app.patch(
    '/api/v1/segments/:id',
    {
      preHandler: requirePermission('campaigns.write'),
      schema: { tags: ['segments'], summary: 'Rename a segment or replace its rule', security, params: SegmentParams, body: SegmentPatch, response: { 200: Segment } },
    },
    async (request) => inShop(request, (tx, actor) => updateSegment(tx, actor.shopId, request.params.id, request.body as SegmentPatchType)),
  );

  app.delete(
    '/api/v1/segments/:id',
    {
      preHandler: requirePermission('campaigns.write'),
      schema: { tags: ['segments'], summary: 'Delete a segment (409 while a campaign uses it)', security, params: SegmentParams, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      await inShop(request, (tx, actor) => deleteSegment(tx, actor.shopId, request.params.id));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/segments/:id/count',
    {
      preHandler: requireAuth,
      schema: { tags: ['segments'], summary: 'How many live contacts the segment selects now, and how many of them are subscribed', security, params: SegmentParams, response: { 200: SegmentCount } },
    },
    async (request) => readShop(request, (tx, actor) => countSegmentById(tx, actor.shopId, request.params.id)),
  );
};
