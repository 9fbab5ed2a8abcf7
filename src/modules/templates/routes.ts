// GET /api/v1/templates and /templates/:id: the global catalogue with this shop's usage.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireAuth } from '../../plugins/auth.js';
import { readShop } from '../../plugins/shop-request.js';
import { Template, TemplateList, TemplateListQuery, TemplateParams } from './schemas.js';
import { getTemplate, listTemplates } from './service.js';

export const templateRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  app.get(
    '/api/v1/templates',
    {
      preHandler: requireAuth,
      schema: { tags: ['templates'], summary: 'The template catalogue (global), with this shop’s usage', security, querystring: TemplateListQuery, response: { 200: TemplateList } },
    },
    async (request) => readShop(request, (tx, actor) => listTemplates(tx, actor.shopId)),
  );

  app.get(
    '/api/v1/templates/:id',
    { preHandler: requireAuth, schema: { tags: ['templates'], summary: 'One template', security, params: TemplateParams, response: { 200: Template } } },
    async (request) => readShop(request, (tx, actor) => getTemplate(tx, actor.shopId, request.params.id)),
  );
};
