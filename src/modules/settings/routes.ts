// GET/PUT /api/v1/settings. Everyone on the staff reads; owners and admins change.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireAuth } from '../../plugins/auth.js';
import { requirePermission } from '../../plugins/permissions.js';
import { inShop, readShop } from '../../plugins/shop-request.js';
import { Settings, SettingsPatch } from './schemas.js';
import { getSettings, updateSettings } from './service.js';

export const settingsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  app.get(
    '/api/v1/settings',
    { preHandler: requireAuth, schema: { tags: ['settings'], summary: "The shop's settings", security, response: { 200: Settings } } },
    async (request) => readShop(request, (tx, actor) => getSettings(tx, actor.shopId)),
  );

  app.put(
    '/api/v1/settings',
    {
      preHandler: requirePermission('settings.manage'),
      schema: { tags: ['settings'], summary: 'Change settings (the fields given)', security, body: SettingsPatch, response: { 200: Settings } },
    },
    async (request) => inShop(request, (tx, actor) => updateSettings(tx, actor, request.body)),
  );
};
