// The whole-document half (@fastify/swagger's transformObject): hoists the marked schemas into
// components, adds the error responses and headers each operation can send, the security of
// each operation (public: `security: []`), the CSRF header, and what the route schemas cannot
// say: the multipart import body, the CSV responses, the data-request answer.
import { STATUS_CODES } from 'node:http';
import { COMPONENT_MARK, type RouteNotes } from './transform.js';
import { ERROR_COMPONENTS, errorComponentFor } from './error-schemas.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export interface DocumentOptions {
  importMaxBytes: number;
  importMaxRows: number;
}

const ref = (kind: 'schemas' | 'headers' | 'responses' | 'parameters', name: string) => ({ $ref: `#/components/${kind}/${name}` });

const HEADERS: Json = {
  RequestId: { description: 'The request id (also in error bodies and logs)', schema: { type: 'string' } },
  RetryAfter: { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
  RateLimitLimit: { description: 'Requests allowed in the window', schema: { type: 'integer' } },
  RateLimitRemaining: { description: 'Requests left in the window', schema: { type: 'integer' } },
  RateLimitReset: { description: 'Seconds until the window resets', schema: { type: 'integer' } },
  IdempotentReplayed: { description: '"true" when this is the stored response of an earlier request with the same Idempotency-Key', schema: { type: 'string', enum: ['true'] } },
  WwwAuthenticate: { description: 'Bearer', schema: { type: 'string' } },
};

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Validation failed (details lists the fields)',
  401: 'Not authenticated (missing, invalid or expired credentials or signature)',
  402: 'Insufficient credits (details: creditsNeeded, creditsAvailable)',
  403: 'Forbidden: the role does not allow it, or the CSRF token is missing or invalid',
  404: "Not found (also another shop's ids)",
  409: 'Conflict: wrong state, duplicate, or the same Idempotency-Key still running',
  413: 'Request body too large',
  415: 'Unsupported media type',
  422: 'Idempotency-Key reused with a different request',
  423: 'Account locked after repeated failed sign-ins',
  429: 'Rate limited',
  502: 'Upstream (Shopify) error',
  503: 'Not ready or not configured',
};

function errorResponse(operationId: string, status: number): Json {
  const headers: Json = { 'X-Request-Id': ref('headers', 'RequestId') };
  if (status === 429 || status === 423 || status === 503) headers['Retry-After'] = ref('headers', 'RetryAfter');
  if (status === 401) headers['WWW-Authenticate'] = ref('headers', 'WwwAuthenticate');
  return {
    description: ERROR_DESCRIPTIONS[status] ?? STATUS_CODES[status] ?? 'Error',
    headers,
    content: { 'application/json': { schema: ref('schemas', errorComponentFor(operationId, status)) } },
  };
}

/** Replaces each marked schema by a $ref, the first of each name becoming the component. */
function hoist(node: unknown, schemas: Json): unknown {
  if (!node || typeof node !== 'object') return node;
  if (Array.isArray(node)) return node.map((n) => hoist(n, schemas));
  const out: Json = {};
  for (const [key, value] of Object.entries(node as Json)) {
    if (key === 'properties' && value && typeof value === 'object') {
      out[key] = Object.fromEntries(Object.entries(value as Json).map(([k, v]) => [k, hoist(v, schemas)]));
    } else if (['items', 'anyOf', 'oneOf', 'allOf', 'not', 'additionalProperties'].includes(key)) {
      out[key] = hoist(value, schemas);
    } else {
      out[key] = value;
    }
  }
  const name = out[COMPONENT_MARK] as string | undefined;
  if (!name) return out;
  delete out[COMPONENT_MARK];
  schemas[name] ??= out;
  return ref('schemas', name);
}

const CSV = (description: string) => ({ 'text/csv': { schema: { type: 'string', description } } });

/** What a route schema cannot say, by operationId. */
function specialCases(operation: Json, notes: RouteNotes, options: DocumentOptions): void {
  switch (notes.operationId) {
    case 'createImport':
      operation.requestBody = {
        required: true,
        description: `Fields before the file. At most ${options.importMaxBytes} bytes and ${options.importMaxRows} rows (413).`,
        content: {
          'multipart/form-data': {
            schema: {
              type: 'object',
              required: ['file'],
              properties: {
                mapping: { type: 'string', description: 'JSON object {field: header}; fields: phone, email, firstName, lastName, tags, consent' },
                consent: { type: 'string', enum: ['subscribed', 'unsubscribed', 'never'], description: 'Consent for rows without a consent column (default never)' },
                file: { type: 'string', format: 'binary', description: 'The CSV (UTF-8, header row)' },
              },
            },
            encoding: { file: { contentType: 'text/csv' } },
          },
        },
      };
      break;
    case 'exportContacts':
      operation.responses['200'].content = CSV('Header row, then one row per live contact; cells starting with = + - @ tab or CR are neutralised');
      operation.responses['200'].headers['Content-Disposition'] = { description: 'attachment; filename="contacts.csv"', schema: { type: 'string' } };
      break;
    case 'getImportErrors':
      operation.responses['200'].content = CSV('Columns line, reason, phone (masked to its last digits)');
      operation.responses['200'].headers['Content-Disposition'] = { description: 'attachment; filename="import-<id>-errors.csv"', schema: { type: 'string' } };
      break;
    case 'exportContactData':
      operation.responses['200'].content = { 'application/json': { schema: ref('schemas', 'ContactData') } };
      break;
  }
}

const CONTACT_DATA: Json = {
  type: 'object',
  description: 'GDPR/CCPA data request: everything held about one contact',
  additionalProperties: false,
  required: ['contact', 'consentHistory', 'campaignRecipients', 'messages', 'inboundMessages', 'importErrors'],
  properties: {
    contact: ref('schemas', 'Contact'),
    consentHistory: { type: 'array', items: ref('schemas', 'ConsentEvent') },
    campaignRecipients: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['campaignId', 'status', 'skipReason', 'updatedAt'],
        properties: { campaignId: { type: 'string', format: 'uuid' }, status: { type: 'string' }, skipReason: { type: 'string', nullable: true }, updatedAt: { type: 'string', format: 'date-time' } },
      },
    },
    messages: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['campaignId', 'providerMessageId', 'status', 'segments', 'sentAt', 'statusAt'],
        properties: {
          campaignId: { type: 'string', format: 'uuid', nullable: true },
          providerMessageId: { type: 'string', nullable: true },
          status: { type: 'string' },
          segments: { type: 'integer', nullable: true },
          sentAt: { type: 'string', format: 'date-time' },
          statusAt: { type: 'string', format: 'date-time', nullable: true },
        },
      },
    },
    inboundMessages: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['keyword', 'receivedAt'],
        properties: { keyword: { type: 'string', nullable: true }, receivedAt: { type: 'string', format: 'date-time' } },
      },
    },
    importErrors: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['importId', 'line', 'reason', 'phoneMasked', 'importedAt'],
        properties: {
          importId: { type: 'string', format: 'uuid' },
          line: { type: 'integer' },
          reason: { type: 'string' },
          phoneMasked: { type: 'string', nullable: true },
          importedAt: { type: 'string', format: 'date-time' },
        },
      },
    },
  },
};

const TAGS = [
  { name: 'health', description: 'Liveness and readiness probes' },
  { name: 'auth', description: 'Sign-up, sign-in, tokens, sessions' },
  { name: 'shopify', description: 'Shopify app install' },
  { name: 'members', description: 'Shop staff, roles and invitations' },
  { name: 'audit', description: 'Audit log and security events' },
  { name: 'contacts', description: 'Contacts, consent, imports and exports' },
  { name: 'segments', description: 'Saved audience filters' },
  { name: 'templates', description: 'Message templates' },
  { name: 'campaigns', description: 'Campaigns: drafts, estimate, enqueue, reports' },
  { name: 'wallet', description: 'Credits: balance and ledger' },
  { name: 'sender-numbers', description: "The shop's sending numbers" },
  { name: 'settings', description: 'Shop settings' },
  { name: 'webhooks', description: 'Signed callbacks from providers' },
];

export function createTransformObject(options: DocumentOptions) {
  return function transformObject({ openapiObject }: { openapiObject: Json }): Json {
    const doc = openapiObject;
    doc.components ??= {};
    const schemas: Json = (doc.components.schemas ??= {});
    Object.assign(schemas, ERROR_COMPONENTS, { ContactData: CONTACT_DATA });
    doc.components.headers = { ...(doc.components.headers ?? {}), ...HEADERS };
    const usedTags = new Set<string>();

    for (const pathItem of Object.values(doc.paths as Json)) {
      for (const [method, operation] of Object.entries(pathItem as Json) as Array<[string, Json]>) {
        const notes = operation['x-pigeon-notes'] as RouteNotes | undefined;
        if (!notes) continue;
        delete operation['x-pigeon-notes'];
        for (const tag of (operation.tags as string[] | undefined) ?? []) usedTags.add(tag);

        if (operation.requestBody) {
          for (const media of Object.values(operation.requestBody.content as Json) as Json[]) media.schema = hoist(media.schema, schemas);
          // The no-body schema (src/plugins/request-bodies.ts): {} or null accepted, nothing needed.
          const json = operation.requestBody.content['application/json']?.schema as Json | undefined;
          if (json?.nullable === true && json.properties && Object.keys(json.properties).length === 0) operation.requestBody.required = false;
        }
        operation.security = notes.public ? [] : [{ bearerAuth: [] }, { cookieAuth: [] }];

        // Query parameters with a default are optional to the client.
        for (const parameter of (operation.parameters as Json[] | undefined) ?? []) {
          if (parameter.in === 'query' && parameter.schema && 'default' in parameter.schema) parameter.required = false;
        }
        if (notes.csrf) {
          operation.parameters = [...(operation.parameters ?? []), ref('parameters', 'CsrfToken')];
        }

        const responses: Json = {};
        for (const [status, response] of Object.entries(operation.responses as Json) as Array<[string, Json]>) {
          if (Number(status) >= 400) continue;
          if (response.content) for (const media of Object.values(response.content as Json) as Json[]) media.schema = hoist(media.schema, schemas);
          if (response.description === 'Default Response') response.description = STATUS_CODES[Number(status)] ?? 'Response';
          response.headers = { 'X-Request-Id': ref('headers', 'RequestId'), ...(response.headers ?? {}) };
          if (notes.rateLimited) {
            Object.assign(response.headers, {
              'X-RateLimit-Limit': ref('headers', 'RateLimitLimit'),
              'X-RateLimit-Remaining': ref('headers', 'RateLimitRemaining'),
              'X-RateLimit-Reset': ref('headers', 'RateLimitReset'),
            });
          }
          if (notes.idempotent) response.headers['Idempotent-Replayed'] = ref('headers', 'IdempotentReplayed');
          responses[status] = response;
        }
        for (const status of notes.statuses) responses[String(status)] = errorResponse(notes.operationId, status);
        operation.responses = responses;
        specialCases(operation, notes, options);
        void method;
      }
    }

    doc.components.parameters = {
      ...(doc.components.parameters ?? {}),
      CsrfToken: {
        name: 'X-CSRF-Token',
        in: 'header',
        required: false,
        description: 'Required when the request is authenticated by the pigeon_access cookie (from GET /api/v1/auth/csrf); not needed with a Bearer token',
        schema: { type: 'string' },
      },
    };
    doc.tags = TAGS.filter((t) => usedTags.has(t.name)).concat([...usedTags].filter((t) => !TAGS.some((k) => k.name === t)).map((name) => ({ name, description: name })));
    return doc;
  };
}
