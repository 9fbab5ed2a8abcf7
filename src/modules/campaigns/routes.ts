// Campaign routes: thin. Another shop's campaign id is 404 everywhere.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { readInShop, withShop } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { authOf, requireAuth } from '../../plugins/auth.js';
import { auditFields, clientInfo, recordAuditEvent } from '../audit/service.js';
import { requirePermission } from '../auth/permissions.js';
import {
  campaignMetrics,
  cancelCampaign,
  createCampaign,
  deleteCampaign,
  enqueueCampaign,
  estimateCampaign,
  getCampaign,
  listCampaigns,
  listRecipients,
  updateCampaign,
} from './service.js';

const Status = Type.Union(['draft', 'scheduled', 'queued', 'sending', 'sent', 'failed', 'cancelled'].map((s) => Type.Literal(s)));
const NullableString = Type.Union([Type.String(), Type.Null()]);
const Campaign = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    body: Type.String(),
    segmentId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    templateId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    discountCode: NullableString,
    status: Status,
    scheduledAt: NullableString,
    queuedAt: NullableString,
    startedAt: NullableString,
    finishedAt: NullableString,
    cancelledAt: NullableString,
    recipientsTotal: Type.Integer(),
    creditsReserved: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
const Estimate = Type.Object(
  {
    recipients: Type.Integer(),
    credits: Type.Integer({ description: 'One credit per SMS segment, counted after personalisation' }),
    encodings: Type.Object({ 'GSM-7': Type.Integer(), 'UCS-2': Type.Integer() }, { additionalProperties: false, description: 'Recipients per encoding' }),
    segmentsPerMessage: Type.Object({ min: Type.Integer(), max: Type.Integer() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  body: Type.String({ minLength: 1, maxLength: 1600, description: 'Tags: {{first_name}}, {{last_name}}, {{shop_name}}, {{discount_code}}, {{unsubscribe}}; {{tag|fallback}}' }),
  segmentId: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'Absent or null: every subscribed contact' })),
  templateId: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
  discountCode: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
  scheduledAt: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'In the future; absent: send when enqueued' })),
};
const Params = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const Page = { limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) };
const notFound = () => new AppError(404, 'NOT_FOUND', 'Campaign not found');

export const campaignRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  const audit = (request: FastifyRequest) => auditFields(app.config.ipHashSecret, clientInfo(request));

  app.get(
    '/api/v1/campaigns',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['campaigns'],
        summary: 'Campaigns, newest first',
        security,
        querystring: Type.Object({ ...Page, status: Type.Optional(Status) }, { additionalProperties: false }),
        response: { 200: Type.Object({ items: Type.Array(Campaign), nextCursor: NullableString }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const { limit, cursor, status } = request.query;
      const after = cursor ? (decodeCursor(cursor, ['string', 'string']) as [string, string]) : null;
      const page = await readInShop(app.db, shopId, (tx) => listCampaigns(tx, shopId, { limit, after, ...(status ? { status: status as never } : {}) }), userId);
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.post(
    '/api/v1/campaigns',
    {
      preHandler: requirePermission('campaigns.write'),
      config: { idempotent: true },
      schema: {
        tags: ['campaigns'],
        summary: 'Create a draft campaign',
        security,
        body: Type.Object(fields, { additionalProperties: false }),
        response: { 201: Campaign },
      },
    },
    async (request, reply) => {
      const { shopId, userId } = authOf(request);
      const campaign = await withShop(app.db, shopId, (tx) => createCampaign(tx, shopId, userId, request.body), userId);
      return reply.code(201).send(campaign);
    },
  );

  app.get(
    '/api/v1/campaigns/:id',
    { preHandler: requireAuth, schema: { tags: ['campaigns'], summary: 'One campaign', security, params: Params, response: { 200: Campaign } } },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const campaign = await readInShop(app.db, shopId, (tx) => getCampaign(tx, shopId, request.params.id), userId);
      if (!campaign) throw notFound();
      return campaign;
    },
  );

  app.patch(
    '/api/v1/campaigns/:id',
    {
      preHandler: requirePermission('campaigns.write'),
      schema: {
        tags: ['campaigns'],
        summary: 'Edit a draft',
        security,
        params: Params,
        body: Type.Object({ ...fields, name: Type.Optional(fields.name), body: Type.Optional(fields.body) }, { additionalProperties: false }),
        response: { 200: Campaign },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return withShop(app.db, shopId, (tx) => updateCampaign(tx, shopId, request.params.id, request.body), userId);
    },
  );

  app.delete(
    '/api/v1/campaigns/:id',
    { preHandler: requirePermission('campaigns.write'), schema: { tags: ['campaigns'], summary: 'Delete a draft', security, params: Params, response: { 204: Type.Null() } } },
    async (request, reply) => {
      const { shopId, userId } = authOf(request);
      await withShop(app.db, shopId, (tx) => deleteCampaign(tx, shopId, request.params.id), userId);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/campaigns/:id/estimate',
    {
      preHandler: requireAuth,
      schema: { tags: ['campaigns'], summary: 'Recipients, encodings, segments per message and credit cost, if enqueued now', security, params: Params, response: { 200: Estimate } },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return readInShop(app.db, shopId, (tx) => estimateCampaign(tx, shopId, request.params.id), userId);
    },
  );

  app.post(
    '/api/v1/campaigns/:id/enqueue',
    {
      preHandler: requirePermission('campaigns.write'),
      config: { idempotent: true },
      schema: {
        tags: ['campaigns'],
        summary: 'Send now (or at scheduledAt): recipients, reservation, state and job in one transaction',
        description: '402 when the wallet cannot cover the cost (then nothing has changed); 409 when the campaign is not a draft (also for the loser of two concurrent enqueues).',
        security,
        params: Params,
        response: { 200: Type.Composite([Campaign, Type.Object({ estimate: Estimate })], { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return withShop(
        app.db,
        shopId,
        async (tx) => {
          const result = await enqueueCampaign(tx, shopId, request.params.id);
          await recordAuditEvent(tx, { shopId, userId, action: 'campaign.enqueue', resourceType: 'campaign', resourceId: result.id, result: 'success', metadata: { recipients: result.estimate.recipients, credits: result.estimate.credits }, ...audit(request) });
          return result;
        },
        userId,
      );
    },
  );

  app.post(
    '/api/v1/campaigns/:id/cancel',
    {
      preHandler: requirePermission('campaigns.write'),
      schema: { tags: ['campaigns'], summary: 'Stop further sends and release what is still reserved', security, params: Params, response: { 200: Campaign } },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return withShop(
        app.db,
        shopId,
        async (tx) => {
          const campaign = await cancelCampaign(tx, shopId, request.params.id);
          await recordAuditEvent(tx, { shopId, userId, action: 'campaign.cancel', resourceType: 'campaign', resourceId: campaign.id, result: 'success', ...audit(request) });
          return campaign;
        },
        userId,
      );
    },
  );

  app.get(
    '/api/v1/campaigns/:id/recipients',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['campaigns'],
        summary: 'Recipients with their state and skip reason, by id',
        security,
        params: Params,
        querystring: Type.Object({ ...Page, status: Type.Optional(Type.Union(['queued', 'sending', 'sent', 'delivered', 'failed', 'skipped', 'cancelled'].map((s) => Type.Literal(s)))) }, { additionalProperties: false }),
        response: {
          200: Type.Object(
            {
              items: Type.Array(
                Type.Object(
                  {
                    id: Type.String(),
                    // Null once the retention job anonymised the finished campaign.
                    contactId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
                    status: Type.String(),
                    skipReason: NullableString,
                    attempts: Type.Integer(),
                    segments: Type.Union([Type.Integer(), Type.Null()]),
                    credits: Type.Union([Type.Integer(), Type.Null()]),
                    providerMessageId: NullableString,
                    errorCode: NullableString,
                    updatedAt: Type.String({ format: 'date-time' }),
                  },
                  { additionalProperties: false },
                ),
              ),
              nextCursor: NullableString,
            },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const { limit, cursor, status } = request.query;
      const after = cursor ? String(decodeCursor(cursor, ['string'])[0]) : null;
      const page = await readInShop(app.db, shopId, (tx) => listRecipients(tx, shopId, request.params.id, { limit, after, ...(status ? { status } : {}) }), userId);
      return { items: page.items, nextCursor: page.next ? encodeCursor([page.next]) : null };
    },
  );

  app.get(
    '/api/v1/campaigns/:id/metrics',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['campaigns'],
        summary: 'Counts by recipient state, and credits reserved, spent, released and refunded',
        security,
        params: Params,
        response: {
          200: Type.Object(
            {
              status: Status,
              recipients: Type.Integer(),
              queued: Type.Integer(),
              sent: Type.Integer(),
              delivered: Type.Integer(),
              failed: Type.Integer(),
              skipped: Type.Integer(),
              cancelled: Type.Integer(),
              credits: Type.Object({ reserved: Type.Integer(), spent: Type.Integer(), released: Type.Integer(), refunded: Type.Integer() }, { additionalProperties: false }),
            },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return readInShop(app.db, shopId, (tx) => campaignMetrics(tx, shopId, request.params.id), userId);
    },
  );
};
