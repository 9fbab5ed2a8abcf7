// GET/PUT /api/v1/settings. Everyone on the staff reads; owners and admins change.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { readInShop, withShop } from '../../db/with-shop.js';
import { authOf, requireAuth } from '../../plugins/auth.js';
import { auditFields, clientInfo, recordAuditEvent } from '../audit/service.js';
import { requirePermission } from '../../plugins/permissions.js';
import { getSettings, updateSettings } from './service.js';

const Clock = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, local time of the recipient' });
const fields = {
  timezone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone: the fallback for contacts without one' }),
  quietHoursStart: Clock,
  quietHoursEnd: Clock,
  retentionDays: Type.Integer({ minimum: 30, maximum: 3650 }),
  senderName: Type.Union([Type.String({ minLength: 1, maxLength: 11 }), Type.Null()]),
  sendingPaused: Type.Boolean({ description: 'Kill switch: while true nothing is sent (batches wait and resume)' }),
  frequencyCapPerDay: Type.Integer({ minimum: 0, maximum: 100, description: 'Campaign messages per contact per 24 h; 0 = no cap' }),
  optOutText: Type.String({ minLength: 1, maxLength: 100 }),
};
const Settings = Type.Object(
  { ...fields, senderNumbers: Type.Array(Type.String(), { description: 'Read-only: the active sending numbers an operator assigned (GET /api/v1/sender-numbers has their history)' }) },
  { additionalProperties: false },
);
const Patch = Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 });

export const settingsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  app.get(
    '/api/v1/settings',
    { preHandler: requireAuth, schema: { tags: ['settings'], summary: "The shop's settings", security, response: { 200: Settings } } },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return readInShop(app.db, shopId, (tx) => getSettings(tx, shopId), userId);
    },
  );

  app.put(
    '/api/v1/settings',
    {
      preHandler: requirePermission('settings.manage'),
      schema: { tags: ['settings'], summary: 'Change settings (the fields given)', security, body: Patch, response: { 200: Settings } },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return withShop(
        app.db,
        shopId,
        async (tx) => {
          const { before, after } = await updateSettings(tx, shopId, request.body);
          const changed = Object.keys(request.body).filter((k) => JSON.stringify(before[k as keyof typeof before]) !== JSON.stringify(after[k as keyof typeof after]));
          await recordAuditEvent(tx, { shopId, userId, action: 'settings.update', resourceType: 'shop', resourceId: shopId, result: 'success', metadata: { changed }, ...auditFields(app.config.ipHashSecret, clientInfo(request)) });
          return after;
        },
        userId,
      );
    },
  );
};
