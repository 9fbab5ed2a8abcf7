// Privacy routes: HTTP only. The data request reads the request, calls the assembly through
// inShop (it writes its audit row) and answers with it. Another shop's contact id is 404.
// The answer's schema (`ContactData`) is written by hand in the OpenAPI document.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requirePermission } from '../../plugins/permissions.js';
import { inShop } from '../../plugins/shop-request.js';
import { ContactParams } from '../contacts/schemas.js';
import { contactDataRequest } from './data-request.js';
import { redactContact } from './redact-contact.js';
import { Type } from '@sinclair/typebox';
import { listCustomerDataRequests, readCustomerDataRequest } from './customer-data-requests.js';
import { CustomerDataExport, CustomerDataRequestList, DataRequestParams } from './schemas.js';
import { readShop } from '../../plugins/shop-request.js';

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

  app.delete(
    '/api/v1/contacts/:id',
    {
      preHandler: requirePermission('contacts.write'),
      schema: { tags: ['contacts'], summary: 'Delete a contact: its PII is removed, history keeps only ids', security, params: ContactParams, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      await inShop(request, (tx, actor) => redactContact(tx, actor, request.params.id));
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/privacy/data-requests',
    {
      preHandler: requirePermission('contacts.privacy'),
      schema: { tags: ['contacts'], summary: 'Data requests that arrived for the shop (Shopify customers/data_request), newest first, for 30 days', security, response: { 200: CustomerDataRequestList } },
    },
    async (request) => ({ items: await readShop(request, (tx, actor) => listCustomerDataRequests(tx, actor.shopId)) }),
  );

  app.get(
    '/api/v1/privacy/data-requests/:id',
    {
      preHandler: requirePermission('contacts.privacy'),
      schema: { tags: ['contacts'], summary: 'One data request with its export (reading it is audited)', security, params: DataRequestParams, response: { 200: CustomerDataExport } },
    },
    async (request) => inShop(request, (tx, actor) => readCustomerDataRequest(tx, actor, request.params.id)),
  );
};
