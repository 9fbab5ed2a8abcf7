// GET /api/v1/sender-numbers: the numbers the shop sends from (read-only: operators assign
// them with `npm run numbers:assign`; a shop can never claim a number).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireAuth } from '../../plugins/auth.js';
import { readShop } from '../../plugins/shop-request.js';
import { SenderNumberList } from './schemas.js';
import { listSenderNumbers } from './service.js';

export const senderNumberRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.get(
    '/api/v1/sender-numbers',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['settings'],
        summary: "The shop's assigned sending numbers (active and released)",
        security: [{ bearerAuth: [] }],
        response: { 200: SenderNumberList },
      },
    },
    async (request) => ({ items: await readShop(request, (tx, actor) => listSenderNumbers(tx, actor.shopId)) }),
  );
};
