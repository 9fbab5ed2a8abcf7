// GET /api/v1/templates and /templates/:id: the global catalogue with this shop's usage.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { readInShop } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { authOf, requireAuth } from '../../plugins/auth.js';
import { getTemplate, listTemplates } from './service.js';

const Template = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    category: Type.String(),
    body: Type.String({ description: 'With personalisation tags: {{first_name}}, {{last_name}}, {{shop_name}}, {{discount_code}}, {{unsubscribe}}; {{tag|fallback}} for a default.' }),
    uses: Type.Integer({ description: "This shop's campaigns created from it" }),
    lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
);

export const templateRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/v1/templates',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['templates'],
        summary: 'The template catalogue (global), with this shop’s usage',
        security: [{ bearerAuth: [] }],
        querystring: Type.Object({}, { additionalProperties: false }),
        // A small, curated catalogue: one page.
        response: { 200: Type.Object({ items: Type.Array(Template), nextCursor: Type.Null() }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return { items: await readInShop(app.db, shopId, (tx) => listTemplates(tx, shopId), userId), nextCursor: null };
    },
  );

  app.get(
    '/api/v1/templates/:id',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['templates'],
        summary: 'One template',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
        response: { 200: Template },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const template = await readInShop(app.db, shopId, (tx) => getTemplate(tx, shopId, request.params.id), userId);
      if (!template) throw new AppError(404, 'NOT_FOUND', 'Template not found');
      return template;
    },
  );
};
