// Webhooks that fail their signature check are rate limited per source address; valid
// signed ones never are, not even from an address that is flooding bad ones.
import { randomUUID } from 'node:crypto';
import t from 'tap';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';
import { signSmsWebhook } from '../src/lib/sms-webhook-signature.js';

const db = await createTestDatabase(t);
const SECRET = 'sms-webhook-secret-for-tests-0123456789';
const FAILURE_MAX = 3;
const env = {
  SMS_WEBHOOK_SECRET: SECRET,
  WEBHOOK_SIGNATURE_FAILURE_MAX: String(FAILURE_MAX),
  WEBHOOK_SIGNATURE_FAILURE_WINDOW_MS: '600000',
  // Tight general limits: a valid webhook must pass even beyond them.
  RATE_LIMIT_MAX: '5',
  RATE_LIMIT_PREFILTER_MAX: '5',
};
const { app } = await buildTestApp(t, db.apiDb, env);

const report = () => JSON.stringify({ eventId: randomUUID(), messageId: `msg-${randomUUID()}`, status: 'delivered' });
const inbound = () => JSON.stringify({ eventId: randomUUID(), from: '+14155550100', to: '+15005550006', text: 'HELP' });

function send(url: string, body: string, remoteAddress: string, valid: boolean, instance = app) {
  const headers = valid ? signSmsWebhook(body, SECRET) : signSmsWebhook(body, 'not-the-secret');
  return instance.inject({ method: 'POST', url, remoteAddress, headers: { 'content-type': 'application/json', ...headers }, payload: body });
}

t.test('many valid signed webhooks from one address all pass', async (t) => {
  const codes: number[] = [];
  for (let i = 0; i < 25; i++) codes.push((await send(i % 2 ? '/webhooks/sms/status' : '/webhooks/sms/inbound', i % 2 ? report() : inbound(), '203.0.113.10', true)).statusCode);
  t.same(codes, Array(25).fill(200), 'beyond the failure budget and the general limits, none refused');
});

t.test('bad signatures get 401 up to the budget, then 429 with Retry-After; valid ones from that address still pass', async (t) => {
  const address = '203.0.113.20';
  const codes: number[] = [];
  for (let i = 0; i < FAILURE_MAX + 2; i++) codes.push((await send('/webhooks/sms/status', report(), address, false)).statusCode);
  t.same(codes, [...Array(FAILURE_MAX).fill(401), 429, 429]);
  const refused = await send('/webhooks/sms/inbound', inbound(), address, false);
  t.equal(refused.statusCode, 429, 'the budget covers both webhook routes');
  t.equal(refused.json().error.code, 'RATE_LIMITED');
  t.ok(Number(refused.headers['retry-after']) >= 1, 'Retry-After is set');
  t.equal(refused.json().error.requestId, refused.headers['x-request-id']);
  const valid = await send('/webhooks/sms/status', report(), address, true);
  t.equal(valid.statusCode, 200, 'a valid signed webhook from the flooding address passes');
  t.equal((await send('/webhooks/sms/inbound', inbound(), address, true)).statusCode, 200);
  t.equal((await send('/webhooks/sms/status', report(), '203.0.113.21', false)).statusCode, 401, 'another address has its own budget');
});

t.test('the budget is per /64 and shared by every instance (the Postgres store)', async (t) => {
  const inSlash64 = () => `2001:db8:40:1:${Array.from({ length: 4 }, () => Math.floor(Math.random() * 0x10000).toString(16)).join(':')}`;
  const codes: number[] = [];
  for (let i = 0; i < FAILURE_MAX + 1; i++) codes.push((await send('/webhooks/sms/status', report(), inSlash64(), false)).statusCode);
  t.same(codes, [...Array(FAILURE_MAX).fill(401), 429], 'rotating the low 64 bits gives no fresh budget');
  const { app: second } = await buildTestApp(t, db.apiDb, env);
  t.equal((await send('/webhooks/sms/status', report(), inSlash64(), false, second)).statusCode, 429, 'a second instance knows the address is over');
  t.equal((await send('/webhooks/sms/status', report(), inSlash64(), true, second)).statusCode, 200, 'and still takes its valid webhooks');
});
