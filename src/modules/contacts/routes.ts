// Contacts routes: HTTP only. Each reads the request, calls one operation through inShop /
// readShop (the export, a workflow over the pool, takes the request's actor), and shapes the
// reply. Another shop's contact id is 404. The data request (GET /api/v1/contacts/:id/data)
// is the privacy module's: it reads across domains.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Readable } from 'node:stream';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { requireAuth } from '../../plugins/auth.js';
import { requirePermission } from '../../plugins/permissions.js';
import { actorOf, inShop, readShop } from '../../plugins/shop-request.js';
import { verifyShopChains } from './consent-chain.js';
import { consentHistoryOfContact } from './consent.js';
import { getContact, notFound } from './contact-row.js';
import { exportContacts } from './export.js';
import {
  ConsentChangeInput,
  ConsentHistory,
  ConsentVerification,
  Contact,
  ContactExportQuery,
  ContactInput,
  ContactList,
  ContactListQuery,
  ContactParams,
  ContactPatch,
} from './schemas.js';
import { listContacts } from './search.js';
import { changeContactConsent, createContact, updateContact } from './service.js';

export const contactRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];

  app.get(
    '/api/v1/contacts',
    {
      preHandler: requireAuth,
      schema: { tags: ['contacts'], summary: 'Contacts, oldest first (cursor stable under inserts)', security, querystring: ContactListQuery, response: { 200: ContactList } },
    },
    async (request) => {
      const { cursor, ...filters } = request.query;
      const after = cursor ? (decodeCursor(cursor, ['string', 'string']) as [string, string]) : null;
      const page = await readShop(request, (tx, actor) => listContacts(tx, actor.shopId, { ...filters, after }));
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.post(
    '/api/v1/contacts',
    {
      preHandler: requirePermission('contacts.write'),
      config: { idempotent: true },
      schema: { tags: ['contacts'], summary: 'Create a contact (phone parsed to E.164 with the shop default region)', security, body: ContactInput, response: { 201: Contact } },
    },
    async (request, reply) => reply.code(201).send(await inShop(request, (tx, actor) => createContact(tx, actor, request.body))),
  );

  app.get(
    '/api/v1/contacts/export',
    {
      preHandler: requirePermission('contacts.privacy'),
      schema: {
        tags: ['contacts'],
        summary: 'All live contacts as CSV (streamed; cells starting with = + - @ tab or CR are neutralised)',
        security,
        querystring: ContactExportQuery,
        produces: ['text/csv'],
      },
    },
    async (request, reply) => {
      const csv = await exportContacts(app.db, actorOf(request), request.query);
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="contacts.csv"');
      return reply.send(Readable.from(csv));
    },
  );

  app.get(
    '/api/v1/contacts/:id',
    { preHandler: requireAuth, schema: { tags: ['contacts'], summary: 'One contact', security, params: ContactParams, response: { 200: Contact } } },
    async (request) => {
      const contact = await readShop(request, (tx, actor) => getContact(tx, actor.shopId, request.params.id));
      if (!contact) throw notFound();
      return contact;
    },
  );

  app.patch(
    '/api/v1/contacts/:id',
    {
      preHandler: requirePermission('contacts.write'),
      schema: { tags: ['contacts'], summary: 'Change a contact (consent changes go through POST …/consent)', security, params: ContactParams, body: ContactPatch, response: { 200: Contact } },
    },
    async (request) => inShop(request, (tx, actor) => updateContact(tx, actor, request.params.id, request.body)),
  );

  app.get(
    '/api/v1/contacts/:id/consent',
    {
      preHandler: requireAuth,
      schema: { tags: ['contacts'], summary: 'Consent history, oldest first, with the hash chain', security, params: ContactParams, response: { 200: ConsentHistory } },
    },
    async (request) => ({ items: await readShop(request, (tx, actor) => consentHistoryOfContact(tx, actor.shopId, request.params.id)) }),
  );

  app.post(
    '/api/v1/contacts/:id/consent',
    {
      preHandler: requirePermission('contacts.write'),
      schema: {
        tags: ['contacts'],
        summary: 'Record an explicit consent change (the only way to re-subscribe an unsubscribed contact)',
        security,
        params: ContactParams,
        body: ConsentChangeInput,
        response: { 200: Contact },
      },
    },
    async (request) => inShop(request, (tx, actor) => changeContactConsent(tx, actor, request.params.id, request.body)),
  );

  app.get(
    '/api/v1/consent/verify',
    {
      preHandler: requirePermission('contacts.privacy'),
      schema: { tags: ['contacts'], summary: "Verify the shop's consent hash chains; names the first broken link", security, response: { 200: ConsentVerification } },
    },
    async (request) => readShop(request, (tx, actor) => verifyShopChains(tx, actor.shopId)),
  );
};
