// NUL and other control characters in query strings, path parameters, headers and JSON
// bodies: one 400 for every route (they used to reach Postgres, which answered with a 500).
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import t, { type Test } from 'tap';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signUp } from './helpers/accounts.js';

const db = await createTestDatabase(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' }, (app) => {
  // A route added by nobody who thought of control characters: the rule still covers it.
  app.get('/api/v1/probe/:name', { schema: { headers: { type: 'object', properties: { 'x-probe': { type: 'string' } } } } }, async (request) => ({
    params: request.params,
    query: request.query,
  }));
  app.post('/api/v1/probe/text', { schema: { body: { type: 'object' } } }, async (request) => ({ got: request.body }));
});

const { headers } = await signUp(app);

function assertRefused(t: Test, res: Awaited<ReturnType<typeof app.inject>>, field: string, label: string) {
  t.equal(res.statusCode, 400, `${label}: 400`);
  const body = res.json();
  t.equal(body.error.code, 'VALIDATION_FAILED', `${label}: VALIDATION_FAILED`);
  t.ok(body.error.details.some((d: { field: string }) => d.field === field), `${label}: names ${field}`);
  t.equal(body.error.requestId, res.headers['x-request-id'], `${label}: envelope with the request id`);
}

t.test('NUL in a query parameter is a 400 on the routes that gave 500', async (t) => {
  for (const url of [
    '/api/v1/contacts?tag=a%00b',
    '/api/v1/contacts?q=a%00b',
    '/api/v1/contacts/export?tag=a%00b',
    '/api/v1/contacts/export?q=a%00b',
  ]) {
    const res = await app.inject({ url, headers });
    assertRefused(t, res, url.includes('tag=') ? 'querystring.tag' : 'querystring.q', url);
  }
});

t.test('other control characters in query, params and headers are refused too; plain values pass', async (t) => {
  for (const [char, name] of [
    ['%01', 'SOH'],
    ['%09', 'tab'],
    ['%0A', 'newline'],
    ['%1B', 'escape'],
    ['%7F', 'DEL'],
  ] as const) {
    assertRefused(t, await app.inject({ url: `/api/v1/contacts?tag=a${char}b`, headers }), 'querystring.tag', `query ${name}`);
    assertRefused(t, await app.inject({ url: `/api/v1/probe/a${char}b`, headers }), 'params.name', `param ${name}`);
  }
  assertRefused(t, await app.inject({ url: `/api/v1/contacts/${randomUUID()}%00`, headers }), 'params.id', 'NUL in a contact id');
  assertRefused(t, await app.inject({ url: '/api/v1/probe/x', headers: { ...headers, 'x-probe': 'a\tb' } }), 'headers.x-probe', 'tab in a declared header');
  assertRefused(t, await app.inject({ url: '/api/v1/probe/x?unknown=a%00b', headers }), 'querystring.unknown', 'even a parameter no schema reads');
  const plain = await app.inject({ url: '/api/v1/probe/caf%C3%A9?tag=vip%20customers', headers: { ...headers, 'x-probe': 'fine' } });
  t.equal(plain.statusCode, 200);
  t.same(plain.json(), { params: { name: 'café' }, query: { tag: 'vip customers' } }, 'printable and non-ASCII text passes');
  const ok = await app.inject({ url: '/api/v1/contacts?tag=vip', headers });
  t.equal(ok.statusCode, 200, 'the real route still answers');
});

t.test('JSON bodies: NUL and control characters are refused, tab and line breaks in text are kept', async (t) => {
  const nul = await app.inject({ method: 'POST', url: '/api/v1/contacts', headers, payload: { phone: '+14155550100', firstName: 'A\u0000B' } });
  assertRefused(t, nul, 'body.firstName', 'NUL in a contact name');
  const escape = await app.inject({ method: 'POST', url: '/api/v1/probe/text', headers, payload: { nested: [{ text: 'x\u001b[31m' }] } });
  assertRefused(t, escape, 'body.nested.0.text', 'escape deep in a body');
  const key = await app.inject({ method: 'POST', url: '/api/v1/probe/text', headers, payload: { 'a\u0000': 1 } });
  assertRefused(t, key, 'body', 'NUL in a property name');
  const text = await app.inject({ method: 'POST', url: '/api/v1/probe/text', headers, payload: { body: 'Hello\tthere,\r\nline two' } });
  t.equal(text.statusCode, 200, 'tab and line breaks in text pass');
  t.same(text.json().got, { body: 'Hello\tthere,\r\nline two' });
});

t.test('over a real socket, a control character in a header value is refused in the envelope', async (t) => {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as net.AddressInfo;
  const response = await new Promise<string>((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => {
      socket.write(Buffer.concat([Buffer.from('GET /health/live HTTP/1.1\r\nHost: x\r\nX-Probe: a'), Buffer.from([0]), Buffer.from('b\r\nConnection: close\r\n\r\n')]));
    });
    let received = '';
    socket.on('data', (chunk) => (received += chunk.toString('latin1')));
    socket.on('close', () => resolve(received));
    socket.on('error', () => {});
  });
  t.match(response, /^HTTP\/1\.1 400 /);
  t.match(response, /"code":"BAD_REQUEST"/);
  t.match(response, /\r\nX-Request-Id: /i);
});
