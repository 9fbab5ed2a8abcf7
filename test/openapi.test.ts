// The OpenAPI document (GET /docs/json) as a contract: Redocly's recommended rules, a stable
// operationId on every operation, named components, every error status with its schema,
// security, and the committed client types (test/helpers/api-types.ts) current.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { API_TYPES_FILE, clientTypes, lintDocument, servedDocument } from '../scripts/openapi-document.js';
import { createResponseValidator } from './helpers/response-validation.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const doc = (await servedDocument()) as Json;
const operations: Array<{ method: string; path: string; op: Json }> = [];
for (const [path, item] of Object.entries(doc.paths as Json)) for (const [method, op] of Object.entries(item as Json)) operations.push({ method, path, op: op as Json });

/** The warnings README.md ("API document") explains; anything else fails. */
const EXPECTED_WARNINGS = [
  'no-server-example.com #/servers/0/url',
  'no-ambiguous-paths #/paths/~1api~1v1~1members~1invitations~1{id}',
  'no-ambiguous-paths #/paths/~1api~1v1~1contacts~1imports~1{id}',
  'operation-2xx-response #/paths/~1api~1v1~1shopify~1install/get/responses',
  'operation-2xx-response #/paths/~1api~1v1~1shopify~1callback/get/responses',
];

t.test("Redocly's recommended rules: no errors, only the warnings the README explains", async (t) => {
  const problems = await lintDocument(doc);
  t.same(problems.filter((p) => p.severity === 'error'), [], 'no errors');
  t.same(problems.filter((p) => p.severity === 'warn').map((p) => `${p.rule} ${p.where}`).sort(), [...EXPECTED_WARNINGS].sort(), `${EXPECTED_WARNINGS.length} known warnings`);
});

t.test('every operation has an operationId, camelCase and unique', async (t) => {
  t.ok(operations.length > 50, `${operations.length} operations`);
  const seen = new Map<string, string>();
  for (const { method, path, op } of operations) {
    const id = op.operationId as string | undefined;
    t.match(id, /^[a-z][A-Za-z0-9]*$/, `${method} ${path}: ${id}`);
    if (id && seen.has(id)) t.fail(`${id} is both ${seen.get(id)} and ${method} ${path}`);
    if (id) seen.set(id, `${method} ${path}`);
  }
  for (const [id, where] of [['listCampaigns', 'get /api/v1/campaigns'], ['enqueueCampaign', 'post /api/v1/campaigns/{id}/enqueue'], ['createImport', 'post /api/v1/contacts/imports'], ['getReadiness', 'get /health/ready']]) {
    t.equal(seen.get(id!), where, `${id} is stable`);
  }
});

t.test('named components: the entities and the error envelope, no def-N', async (t) => {
  const names = Object.keys(doc.components.schemas);
  for (const name of ['Error', 'FieldError', 'InsufficientCreditsError', 'CreditShortfall', 'Contact', 'Campaign', 'Segment', 'SegmentRule', 'Import', 'WalletEntry', 'Wallet', 'Template', 'SenderNumber', 'Settings', 'Member', 'Invitation', 'AuditEvent', 'User', 'Shop']) {
    t.ok(names.includes(name), name);
  }
  t.same(names.filter((n) => /^def-\d+$/.test(n)), [], 'no anonymous def-N');
  const json = (path: string, method: string, status: string) => doc.paths[path][method].responses[status].content['application/json'].schema;
  t.same(json('/api/v1/campaigns/{id}', 'get', '200'), { $ref: '#/components/schemas/Campaign' }, 'responses refer to the component');
  t.same(doc.components.schemas.CampaignList.properties.items.items, { $ref: '#/components/schemas/Campaign' }, 'nested too');
  t.same(json('/api/v1/campaigns/{id}/enqueue', 'post', '402'), { $ref: '#/components/schemas/InsufficientCreditsError' });
  t.same(doc.components.schemas.Error.properties.error.properties.details, {
    type: 'array',
    items: { $ref: '#/components/schemas/FieldError' },
    description: 'The fields at fault (always this shape; absent when no field is at fault)',
  });
  t.same(doc.components.schemas.CreditShortfall.required, ['creditsNeeded', 'creditsAvailable']);
});

t.test('error statuses by route properties, each with the Error schema', async (t) => {
  const statuses = (path: string, method: string) => Object.keys(doc.paths[path][method].responses);
  t.same(statuses('/api/v1/campaigns/{id}/enqueue', 'post'), ['200', '400', '401', '402', '403', '404', '409', '413', '415', '422', '429']);
  t.same(statuses('/api/v1/campaigns', 'get'), ['200', '400', '401', '429']);
  t.same(statuses('/api/v1/auth/login', 'post'), ['200', '400', '401', '413', '415', '423', '429']);
  t.same(statuses('/health/ready', 'get'), ['200', '400', '503'], 'a control character in the query string is refused everywhere');
  t.same(statuses('/webhooks/sms/status', 'post'), ['200', '400', '401', '413', '415', '429', '503']);
  for (const { method, path, op } of operations) {
    for (const [status, response] of Object.entries(op.responses as Json)) {
      if (Number(status) < 400) continue;
      const schema = (response as Json).content?.['application/json']?.schema?.$ref as string | undefined;
      t.match(schema, /^#\/components\/schemas\/(Error|InsufficientCreditsError|NotReadyError)$/, `${method} ${path} ${status}`);
    }
  }
  t.ok(doc.paths['/api/v1/campaigns'].get.responses['429'].headers['Retry-After'], '429 has Retry-After');
});

t.test('security: public operations say so, the rest take a bearer token or the cookie (+ CSRF on changes)', async (t) => {
  const publicOps = ['getLiveness', 'getReadiness', 'signup', 'login', 'refreshSession', 'exchangeShopifySessionToken', 'startShopifyInstall', 'completeShopifyInstall', 'receiveSmsStatus', 'receiveSmsInbound', 'receiveStripeWebhook', 'receiveShopifyWebhook'];
  for (const { op } of operations) {
    if (publicOps.includes(op.operationId)) t.same(op.security, [], `${op.operationId} is public`);
    else t.same(op.security, [{ bearerAuth: [] }, { cookieAuth: [] }], `${op.operationId} needs a token or the cookie`);
  }
  t.same(doc.components.securitySchemes.cookieAuth, { type: 'apiKey', in: 'cookie', name: 'pigeon_access', description: doc.components.securitySchemes.cookieAuth.description });
  t.same(doc.components.parameters.CsrfToken.name, 'X-CSRF-Token');
  const csrf = (id: string) => operations.find((o) => o.op.operationId === id)!.op.parameters?.some((p: Json) => p.$ref === '#/components/parameters/CsrfToken') === true;
  t.ok(csrf('enqueueCampaign'), 'a change takes X-CSRF-Token');
  t.ok(csrf('deleteContact'));
  t.notOk(csrf('listCampaigns'), 'a read does not');
  t.notOk(csrf('login'), 'a public operation does not');
});

t.test('what route schemas cannot say: multipart, CSV, data request, webhook signatures, optional paging', async (t) => {
  const upload = doc.paths['/api/v1/contacts/imports'].post.requestBody.content['multipart/form-data'].schema;
  t.same(Object.keys(upload.properties), ['mapping', 'consent', 'file']);
  t.same(upload.required, ['file']);
  t.match(doc.paths['/api/v1/contacts/imports'].post.requestBody.description, /bytes and \d+ rows/);
  t.ok(doc.paths['/api/v1/contacts/export'].get.responses['200'].content['text/csv'], 'export is text/csv');
  t.ok(doc.paths['/api/v1/contacts/imports/{id}/errors'].get.responses['200'].content['text/csv'], 'import errors are text/csv');
  t.same(doc.paths['/api/v1/contacts/{id}/data'].get.responses['200'].content['application/json'].schema, { $ref: '#/components/schemas/ContactData' });
  const headers = (doc.paths['/webhooks/sms/status'].post.parameters as Json[]).filter((p) => p.in === 'header').map((p) => p.name);
  t.same(headers.sort(), ['x-pigeon-sms-signature', 'x-pigeon-sms-timestamp']);
  for (const { op } of operations) {
    for (const p of (op.parameters as Json[] | undefined) ?? []) {
      if (p.in === 'query' && p.schema && 'default' in p.schema) t.equal(p.required, false, `${op.operationId}: ${p.name} has a default, so is optional`);
    }
  }
});

t.test('the response validator (test/helpers/response-validation.ts) refuses what the document does not say', async (t) => {
  const check = createResponseValidator(doc);
  const envelope = (details?: unknown) => JSON.stringify({ error: { code: 'INSUFFICIENT_CREDITS', message: 'm', requestId: 'r', ...(details === undefined ? {} : { details }) } });
  t.equal(check('POST', '/api/v1/campaigns/:id/enqueue', 402, 'application/json', envelope({ creditsNeeded: 3, creditsAvailable: 2 })), null, 'a documented 402');
  t.match(check('POST', '/api/v1/campaigns/:id/enqueue', 402, 'application/json', envelope()), /must have required property 'details'/, '402 without details');
  t.match(check('POST', '/api/v1/campaigns/:id/enqueue', 418, 'application/json', envelope()), /status 418 is not documented/, 'an undocumented status');
  t.match(check('GET', '/api/v1/campaigns', 400, 'application/json', JSON.stringify({ error: { code: 'X', message: 'm', requestId: 'r', details: { field: 'x' } } })), /details must be array/, 'details in another shape');
  t.match(check('GET', '/api/v1/contacts/export', 200, 'application/json', '{}'), /application\/json is not documented/, 'JSON where CSV is documented');
  t.match(check('GET', '/api/v1/nowhere', 200, 'application/json', '{}'), /not in the OpenAPI document/, 'a route missing from the document');
});

t.test(`${API_TYPES_FILE} is what openapi-typescript generates from the served document (else: npm run api:types)`, async (t) => {
  const committed = await readFile(API_TYPES_FILE, 'utf8').catch(() => '');
  const actual = await clientTypes(doc);
  if (actual === committed) return t.pass('current');
  const a = committed.split('\n');
  const b = actual.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  t.fail(`${API_TYPES_FILE} is stale: run npm run api:types and commit it`, { line: i + 1, committed: a.slice(Math.max(0, i - 2), i + 3).join('\n'), generated: b.slice(Math.max(0, i - 2), i + 3).join('\n') });
});
