// Campaign routes: HTTP only. Each reads the request, calls one operation through inShop /
// readShop, and shapes the reply. Another shop's campaign id is 404 everywhere.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { requireAuth } from '../../plugins/auth.js';
import { requirePermission } from '../../plugins/permissions.js';
import { inShop, readShop } from '../../plugins/shop-request.js';
import { cancelCampaign } from './cancel.js';
import { createCampaign, deleteCampaign, getCampaign, listCampaigns, notFound, updateCampaign } from './drafts.js';
import { enqueueCampaign, estimateCampaign } from './enqueue.js';
import { campaignMetrics, listRecipients } from './reports.js';
import {
  Campaign,
  CampaignInput,
  CampaignList,
  CampaignListQuery,
  CampaignMetrics,
  CampaignParams,
  CampaignPatch,
  EnqueuedCampaign,
  Estimate,
  RecipientList,
  RecipientListQuery,
} from './schemas.js';

export const campaignRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.get(
    '/api/v1/campaigns',
    { preHandler: requireAuth, schema: { tags: ['campaigns'], summary: 'Campaigns, newest first', security, querystring: CampaignListQuery, response: { 200: CampaignList } } },
    async (request) => {
      const { limit, cursor, status } = request.query;
      const after = cursor ? (decodeCursor(cursor, ['string', 'string']) as [string, string]) : null;
      const page = await readShop(request, (tx, actor) => listCampaigns(tx, actor.shopId, { limit, after, ...(status ? { status } : {}) }));
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.post(
    '/api/v1/campaigns',
    {
      preHandler: requirePermission('campaigns.write'),
      config: { idempotent: true },
      schema: { tags: ['campaigns'], summary: 'Create a draft campaign', security, body: CampaignInput, response: { 201: Campaign } },
    },
    async (request, reply) => reply.code(201).send(await inShop(request, (tx, actor) => createCampaign(tx, actor, request.body))),
  );

  app.get(
    '/api/v1/campaigns/:id',
    { preHandler: requireAuth, schema: { tags: ['campaigns'], summary: 'One campaign', security, params: CampaignParams, response: { 200: Campaign } } },
    async (request) => {
      const campaign = await readShop(request, (tx, actor) => getCampaign(tx, actor.shopId, request.params.id));
      if (!campaign) throw notFound();
      return campaign;
    },
  );

  app.patch(
    '/api/v1/campaigns/:id',
    {
      preHandler: requirePermission('campaigns.write'),
      schema: { tags: ['campaigns'], summary: 'Edit a draft', security, params: CampaignParams, body: CampaignPatch, response: { 200: Campaign } },
    },
    async (request) => inShop(request, (tx, actor) => updateCampaign(tx, actor, request.params.id, request.body)),
  );

  app.delete(
    '/api/v1/campaigns/:id',
    { preHandler: requirePermission('campaigns.write'), schema: { tags: ['campaigns'], summary: 'Delete a draft', security, params: CampaignParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await inShop(request, (tx, actor) => deleteCampaign(tx, actor, request.params.id));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/campaigns/:id/estimate',
    {
      preHandler: requireAuth,
      schema: { tags: ['campaigns'], summary: 'Recipients, encodings, segments per message and credit cost, if enqueued now', security, params: CampaignParams, response: { 200: Estimate } },
    },
    async (request) => readShop(request, (tx, actor) => estimateCampaign(tx, actor.shopId, request.params.id)),
  );

  app.post(
    '/api/v1/campaigns/:id/enqueue',
    {
      preHandler: requirePermission('campaigns.write'),
      config: { idempotent: true },
      schema: {
        tags: ['campaigns'],
        summary: 'Send now (or at scheduledAt): recipients, reservation, state and job in one transaction',
        description:
          '402 when the wallet cannot cover the cost (then nothing has changed); 409 when the campaign is not a draft (also for the loser of two concurrent enqueues) or the shop has no sender number (NO_SENDER_NUMBER).',
        security,
        params: CampaignParams,
        response: { 200: EnqueuedCampaign },
      },
    },
    async (request) => inShop(request, (tx, actor) => enqueueCampaign(tx, actor, request.params.id)),
  );

  app.post(
    '/api/v1/campaigns/:id/cancel',
    {
      preHandler: requirePermission('campaigns.write'),
      schema: { tags: ['campaigns'], summary: 'Stop further sends and release what is still reserved', security, params: CampaignParams, response: { 200: Campaign } },
    },
    async (request) => inShop(request, (tx, actor) => cancelCampaign(tx, actor, request.params.id)),
  );

  app.get(
    '/api/v1/campaigns/:id/recipients',
    {
      preHandler: requireAuth,
      schema: { tags: ['campaigns'], summary: 'Recipients with their state and skip reason, by id', security, params: CampaignParams, querystring: RecipientListQuery, response: { 200: RecipientList } },
    },
    async (request) => {
      const { limit, cursor, status } = request.query;
      const after = cursor ? String(decodeCursor(cursor, ['string'])[0]) : null;
      const page = await readShop(request, (tx, actor) => listRecipients(tx, actor.shopId, request.params.id, { limit, after, ...(status ? { status } : {}) }));
      return { items: page.items, nextCursor: page.next ? encodeCursor([page.next]) : null };
    },
  );

  app.get(
    '/api/v1/campaigns/:id/metrics',
    {
      preHandler: requireAuth,
      schema: { tags: ['campaigns'], summary: 'Counts by recipient state, and credits reserved, spent, released and refunded', security, params: CampaignParams, response: { 200: CampaignMetrics } },
    },
    async (request) => readShop(request, (tx, actor) => campaignMetrics(tx, actor.shopId, request.params.id)),
  );
};
