// Contacts routes: thin. Another shop's contact id is 404; every query parameter is in
// a schema with additionalProperties: false, so an unknown one is a 400.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { readInShop, withShop } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { decodeCursor, encodeCursor } from '../../lib/cursor.js';
import { authOf, requireAuth } from '../../plugins/auth.js';
import { auditFields, clientInfo, recordAuditEvent } from '../audit/service.js';
import { requirePermission } from '../../plugins/permissions.js';
import { Readable } from 'node:stream';
import { verifyShopChains } from './consent-chain.js';
import { exportContacts } from './export.js';
import { consentHistory } from './consent.js';
import { changeContactConsent, contactDataExport, createContact, deleteContact, getContact, listContacts, updateContact } from './service.js';

const Consent = Type.Union([Type.Literal('subscribed'), Type.Literal('unsubscribed'), Type.Literal('never')]);
const NullableString = (max: number) => Type.Union([Type.String({ minLength: 1, maxLength: max }), Type.Null()]);
const Tag = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^,\\n\\r]+$' });
const Attributes = Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), Type.Union([Type.Number(), Type.Boolean(), Type.Null(), Type.String({ maxLength: 1000 })]), {
  maxProperties: 50,
  description: 'Flat custom attributes (string, number, boolean or null values)',
});
const writable = {
  email: Type.Optional(Type.Union([Type.String({ format: 'email', maxLength: 320 }), Type.Null()])),
  firstName: Type.Optional(NullableString(100)),
  lastName: Type.Optional(NullableString(100)),
  tags: Type.Optional(Type.Array(Tag, { maxItems: 50 })),
  attributes: Type.Optional(Attributes),
  timeZone: Type.Optional(NullableString(64)),
};
const Contact = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    phone: Type.String({ description: 'E.164' }),
    email: Type.Union([Type.String(), Type.Null()]),
    firstName: Type.Union([Type.String(), Type.Null()]),
    lastName: Type.Union([Type.String(), Type.Null()]),
    tags: Type.Array(Type.String()),
    attributes: Type.Record(Type.String(), Type.Unknown()),
    timeZone: Type.Union([Type.String(), Type.Null()]),
    country: Type.Union([Type.String(), Type.Null()]),
    consent: Consent,
    consentUpdatedAt: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
const ConsentEvent = Type.Object(
  {
    seq: Type.Integer(),
    state: Consent,
    previousState: Type.Union([Consent, Type.Null()]),
    source: Type.String(),
    actor: Type.Object({ kind: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }),
    occurredAt: Type.String(),
    hash: Type.String(),
    prevHash: Type.String(),
    redacted: Type.Boolean(),
  },
  { additionalProperties: false },
);
const Params = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const notFound = () => new AppError(404, 'NOT_FOUND', 'Contact not found');

export const contactRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const security = [{ bearerAuth: [] }];
  const audit = (request: FastifyRequest) => auditFields(app.config.ipHashSecret, clientInfo(request));

  app.get(
    '/api/v1/contacts',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['contacts'],
        summary: 'Contacts, oldest first (cursor stable under inserts)',
        security,
        querystring: Type.Object(
          {
            limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
            cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
            consent: Type.Optional(Consent),
            tag: Type.Optional(Tag),
            createdFrom: Type.Optional(Type.String({ format: 'date-time' })),
            createdTo: Type.Optional(Type.String({ format: 'date-time' })),
            updatedFrom: Type.Optional(Type.String({ format: 'date-time' })),
            updatedTo: Type.Optional(Type.String({ format: 'date-time' })),
            q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Phone prefix (digits) or name prefix' })),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.Object({ items: Type.Array(Contact), nextCursor: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }) },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const { cursor, ...filters } = request.query;
      const after = cursor ? (decodeCursor(cursor, ['string', 'string']) as [string, string]) : null;
      const page = await readInShop(app.db, shopId, (tx) => listContacts(tx, shopId, { ...filters, after }), userId);
      return { items: page.items, nextCursor: page.next ? encodeCursor(page.next) : null };
    },
  );

  app.post(
    '/api/v1/contacts',
    {
      preHandler: requirePermission('contacts.write'),
      config: { idempotent: true },
      schema: {
        tags: ['contacts'],
        summary: 'Create a contact (phone parsed to E.164 with the shop default region)',
        security,
        body: Type.Object({ phone: Type.String({ minLength: 1, maxLength: 40 }), consent: Type.Optional(Consent), ...writable }, { additionalProperties: false }),
        response: { 201: Contact },
      },
    },
    async (request, reply) => {
      const { shopId, userId } = authOf(request);
      const contact = await withShop(app.db, shopId, (tx) => createContact(tx, shopId, { kind: 'user', id: userId }, request.body), userId);
      return reply.code(201).send(contact);
    },
  );

  app.get(
    '/api/v1/contacts/export',
    {
      preHandler: requirePermission('contacts.privacy'),
      schema: {
        tags: ['contacts'],
        summary: 'All live contacts as CSV (streamed; cells starting with = + - @ tab or CR are neutralised)',
        security,
        querystring: Type.Object({ consent: Type.Optional(Consent), tag: Type.Optional(Tag) }, { additionalProperties: false }),
        produces: ['text/csv'],
      },
    },
    async (request, reply) => {
      const { shopId, userId } = authOf(request);
      await withShop(app.db, shopId, (tx) => recordAuditEvent(tx, { shopId, userId, action: 'contact.export', resourceType: 'contact', result: 'success', metadata: { filters: request.query }, ...audit(request) }), userId);
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="contacts.csv"');
      return reply.send(Readable.from(exportContacts(app.db, shopId, userId, request.query)));
    },
  );

  app.get(
    '/api/v1/contacts/:id',
    { preHandler: requireAuth, schema: { tags: ['contacts'], summary: 'One contact', security, params: Params, response: { 200: Contact } } },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const contact = await readInShop(app.db, shopId, (tx) => getContact(tx, shopId, request.params.id), userId);
      if (!contact) throw notFound();
      return contact;
    },
  );

  app.patch(
    '/api/v1/contacts/:id',
    {
      preHandler: requirePermission('contacts.write'),
      schema: {
        tags: ['contacts'],
        summary: 'Change a contact (consent changes go through POST …/consent)',
        security,
        params: Params,
        body: Type.Object({ phone: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })), ...writable }, { additionalProperties: false, minProperties: 1 }),
        response: { 200: Contact },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return withShop(app.db, shopId, (tx) => updateContact(tx, shopId, request.params.id, request.body), userId);
    },
  );

  app.delete(
    '/api/v1/contacts/:id',
    {
      preHandler: requirePermission('contacts.write'),
      schema: { tags: ['contacts'], summary: 'Delete a contact: its PII is removed, history keeps only ids', security, params: Params, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      const { shopId, userId } = authOf(request);
      const deleted = await withShop(
        app.db,
        shopId,
        async (tx) => {
          if (!(await deleteContact(tx, shopId, request.params.id))) return false;
          await recordAuditEvent(tx, { shopId, userId, action: 'contact.redact', resourceType: 'contact', resourceId: request.params.id, result: 'success', ...audit(request) });
          return true;
        },
        userId,
      );
      if (!deleted) throw notFound();
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/api/v1/contacts/:id/consent',
    {
      preHandler: requireAuth,
      schema: { tags: ['contacts'], summary: 'Consent history, oldest first, with the hash chain', security, params: Params, response: { 200: Type.Object({ items: Type.Array(ConsentEvent) }, { additionalProperties: false }) } },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const items = await readInShop(
        app.db,
        shopId,
        async (tx) => ((await getContact(tx, shopId, request.params.id)) ? consentHistory(tx, shopId, request.params.id) : null),
        userId,
      );
      if (!items) throw notFound();
      return { items };
    },
  );

  app.post(
    '/api/v1/contacts/:id/consent',
    {
      preHandler: requirePermission('contacts.write'),
      schema: {
        tags: ['contacts'],
        summary: 'Record an explicit consent change (the only way to re-subscribe an unsubscribed contact)',
        security,
        params: Params,
        body: Type.Object({ state: Consent, source: Type.Optional(Type.Union([Type.Literal('api'), Type.Literal('admin')])) }, { additionalProperties: false }),
        response: { 200: Contact },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return withShop(app.db, shopId, (tx) => changeContactConsent(tx, shopId, request.params.id, request.body.state, request.body.source ?? 'api', { kind: 'user', id: userId }), userId);
    },
  );

  app.get(
    '/api/v1/contacts/:id/data',
    {
      preHandler: requirePermission('contacts.privacy'),
      schema: { tags: ['contacts'], summary: 'GDPR/CCPA data request: everything held about the contact', security, params: Params },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      const data = await withShop(
        app.db,
        shopId,
        async (tx) => {
          const found = await contactDataExport(tx, shopId, request.params.id);
          if (found) await recordAuditEvent(tx, { shopId, userId, action: 'contact.data_request', resourceType: 'contact', resourceId: request.params.id, result: 'success', ...audit(request) });
          return found;
        },
        userId,
      );
      if (!data) throw notFound();
      return data;
    },
  );

  app.get(
    '/api/v1/consent/verify',
    {
      preHandler: requirePermission('contacts.privacy'),
      schema: {
        tags: ['contacts'],
        summary: "Verify the shop's consent hash chains; names the first broken link",
        security,
        response: {
          200: Type.Object(
            {
              ok: Type.Boolean(),
              contacts: Type.Integer(),
              events: Type.Integer(),
              firstBroken: Type.Union([Type.Object({ contactId: Type.String(), seq: Type.Union([Type.Integer(), Type.Null()]), reason: Type.String() }, { additionalProperties: false }), Type.Null()]),
            },
            { additionalProperties: false },
          ),
        },
      },
    },
    async (request) => {
      const { shopId, userId } = authOf(request);
      return readInShop(app.db, shopId, (tx) => verifyShopChains(tx, shopId), userId);
    },
  );
};
