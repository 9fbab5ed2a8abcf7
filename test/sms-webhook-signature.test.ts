// The SMS webhook signature: tampering, wrong secret, stale and future timestamps,
// malformed headers.
import t from 'tap';
import { signSmsWebhook, verifySmsWebhook } from '../src/lib/sms-webhook-signature.js';

const secret = 'whsec_0123456789abcdef0123456789abcdef';
const body = Buffer.from('{"eventId":"e1","messageId":"m1","status":"delivered"}');
const now = 1_800_000_000;

t.test('a genuine signature verifies; any change does not', async (t) => {
  const headers = signSmsWebhook(body, secret, now);
  t.equal(verifySmsWebhook(body, headers, secret, { nowSeconds: now }), 'ok');
  t.equal(verifySmsWebhook(Buffer.from(body.toString().replace('delivered', 'failed')), headers, secret, { nowSeconds: now }), 'bad_signature', 'tampered body');
  t.equal(verifySmsWebhook(body, headers, 'another-secret', { nowSeconds: now }), 'bad_signature', 'wrong secret');
  const moved = { ...headers, 'x-pigeon-sms-timestamp': String(now + 1) };
  t.equal(verifySmsWebhook(body, moved, secret, { nowSeconds: now }), 'bad_signature', 'the timestamp is inside the MAC');
});

t.test('stale and future timestamps beyond the tolerance are refused', async (t) => {
  t.equal(verifySmsWebhook(body, signSmsWebhook(body, secret, now - 301), secret, { nowSeconds: now }), 'stale');
  t.equal(verifySmsWebhook(body, signSmsWebhook(body, secret, now + 301), secret, { nowSeconds: now }), 'stale');
  t.equal(verifySmsWebhook(body, signSmsWebhook(body, secret, now - 299), secret, { nowSeconds: now }), 'ok');
});

t.test('missing and malformed headers', async (t) => {
  const headers = signSmsWebhook(body, secret, now);
  t.equal(verifySmsWebhook(body, {}, secret, { nowSeconds: now }), 'missing');
  t.equal(verifySmsWebhook(body, { 'x-pigeon-sms-timestamp': headers['x-pigeon-sms-timestamp'] }, secret, { nowSeconds: now }), 'missing');
  for (const signature of ['', 'v2=' + 'a'.repeat(64), 'v1=' + 'A'.repeat(64), 'v1=' + 'a'.repeat(63), headers['x-pigeon-sms-signature'] + ' ']) {
    t.equal(verifySmsWebhook(body, { ...headers, 'x-pigeon-sms-signature': signature }, secret, { nowSeconds: now }), 'malformed', JSON.stringify(signature));
  }
  t.equal(verifySmsWebhook(body, { ...headers, 'x-pigeon-sms-timestamp': '1e9' }, secret, { nowSeconds: now }), 'malformed');
  t.equal(verifySmsWebhook(body, { ...headers, 'x-pigeon-sms-signature': [headers['x-pigeon-sms-signature']!] }, secret, { nowSeconds: now }), 'malformed', 'a repeated header');
  t.throws(() => verifySmsWebhook(body, headers, ''), TypeError, 'an empty secret is a configuration error');
});
