// Privacy routes: HTTP only. The data request reads the request, calls the assembly through
// inShop (it writes its audit row) and answers with it. Another shop's contact id is 404.
// The answer's schema (`ContactData`) is written by hand in the OpenAPI document.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requirePermission } from '../../plugins/permissions.js';
import { inShop } from '../../plugins/shop-request.js';
import { ContactParams } from '../contacts/schemas.js';
import { contactDataRequest } from './data-request.js';

export const privacyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.get(
    '/api/v1/contacts/:id/data',
    {
      preHandler: requirePermission('contacts.privacy'),
      schema: { tags: ['contacts'], summary: 'GDPR/CCPA data request: everything held about the contact', security, params: ContactParams },
    },
    async (request) => inShop(request, (tx, actor) => contactDataRequest(tx, actor, request.params.id)),
  );
};
