// The SMS provider adapter against the fake provider: client references make sends
// idempotent, timeouts and 5xx are transient, refusals permanent, and the circuit breaker
// opens on an outage (then stops calling), ignores refusals, and closes on recovery.
import t, { type Test } from 'tap';
import { startFakeSmsProvider } from '../src/providers/sms/fake-server.js';
import { createSmsClient, SmsCircuitOpenError, SmsPermanentError, SmsTransientError } from '../src/providers/sms/client.js';
import { verifySmsWebhook } from '../src/lib/sms-webhook-signature.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const API_KEY = 'sms-test-key';
const SECRET = 'sms-webhook-secret-0123456789abcdef';

// A tiny receiver for the fake's signed webhooks.
const received: Array<{ url: string; body: Buffer; headers: Record<string, string | string[] | undefined> }> = [];
const receiver = createServer(async (req, res) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  received.push({ url: req.url ?? '', body: Buffer.concat(chunks), headers: req.headers });
  res.writeHead(200).end('{}');
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
t.teardown(() => new Promise<void>((resolve) => receiver.close(() => resolve())));

const fake = await startFakeSmsProvider({
  apiKey: API_KEY,
  webhookSecret: SECRET,
  deliveryReportUrl: `${receiverUrl}/status`,
  inboundUrl: `${receiverUrl}/inbound`,
  dlrDelayMs: 5,
  rejectNumbers: new Set(['+15005550001']),
  failNumbers: new Set(['+15005550002']),
});
t.teardown(() => fake.close());
const client = (overrides: Partial<Parameters<typeof createSmsClient>[0]> = {}) =>
  createSmsClient({ baseUrl: fake.url, apiKey: API_KEY, timeoutMs: 500, breaker: { errorThresholdPercentage: 50, resetTimeoutMs: 300, volumeThreshold: 4 }, ...overrides });

t.test('a repeated client reference returns the original message and sends nothing', async (t) => {
  const sms = client();
  t.teardown(() => sms.shutdown());
  const before = fake.sentCount;
  const first = await sms.send({ from: '+15550100001', to: '+14155550100', body: 'hello', clientReference: 'c1:1' });
  const again = await sms.send({ from: '+15550100001', to: '+14155550100', body: 'hello', clientReference: 'c1:1' });
  t.equal(again.providerMessageId, first.providerMessageId);
  t.same([first.replayed, again.replayed], [false, true]);
  t.equal(fake.sentCount - before, 1);
  t.equal((await sms.lookup('c1:1'))?.providerMessageId, first.providerMessageId);
  t.equal(await sms.lookup('c1:never'), null);
});

t.test('refusals are permanent and do not open the circuit', async (t) => {
  const sms = client();
  t.teardown(() => sms.shutdown());
  for (let i = 0; i < 10; i++) {
    await t.rejects(sms.send({ from: '+15550100001', to: '+15005550001', body: 'x', clientReference: `bad:${i}` }), SmsPermanentError);
  }
  t.equal(sms.breakerState(), 'closed');
  await t.rejects(client({ apiKey: 'wrong' }).send({ from: '+15550100001', to: '+14155550100', body: 'x', clientReference: 'k' }), SmsPermanentError, 'a wrong API key is permanent');
});

t.test('a timeout is transient', async (t) => {
  const sms = client({ timeoutMs: 50 });
  t.teardown(() => {
    sms.shutdown();
    fake.setLatency(0);
  });
  fake.setLatency(200);
  await t.rejects(sms.send({ from: '+15550100001', to: '+14155550100', body: 'slow', clientReference: 'slow:1' }), SmsTransientError);
});

/** A client of a misbehaving "provider" (a plain HTTP server with this handler). */
async function clientOf(t: Test, handler: Parameters<typeof createServer>[1]) {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const sms = client({ baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
  t.teardown(() => {
    sms.shutdown();
    server.closeAllConnections();
    server.close();
  });
  return sms;
}

t.test('a redirect is not followed and is transient (a misconfigured URL pauses, fails nobody)', async (t) => {
  let followed = 0;
  const sms = await clientOf(t, (req, res) => {
    if (req.url?.startsWith('/elsewhere')) followed++;
    res.writeHead(302, { location: '/elsewhere/v1/messages' }).end();
  });
  await t.rejects(sms.send({ from: '+15550100001', to: '+14155550100', body: 'x', clientReference: 'redirect:1' }), SmsTransientError);
  t.equal(followed, 0, 'the redirect was not followed');
});

t.test('an answer larger than a provider answer is not read to the end and is transient', async (t) => {
  const sms = await clientOf(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(`{"id":"SM1","padding":"${'x'.repeat(1024 * 1024)}"}`);
  });
  await t.rejects(sms.send({ from: '+15550100001', to: '+14155550100', body: 'x', clientReference: 'flood:1' }), { name: 'SmsTransientError', message: /more than 65536 bytes/ });
});

t.test('an outage opens the circuit, calls stop, and recovery closes it', async (t) => {
  const sms = client();
  t.teardown(() => {
    sms.shutdown();
    fake.setOutage(false);
  });
  fake.setOutage(true);
  const errors: unknown[] = [];
  for (let i = 0; i < 6; i++) errors.push(await sms.send({ from: '+15550100001', to: '+14155550100', body: 'x', clientReference: `out:${i}` }).catch((e: unknown) => e));
  t.ok(errors.slice(0, 4).every((e) => e instanceof SmsTransientError), '5xx is transient');
  t.equal(sms.breakerState(), 'open');
  const requests = fake.requestCount;
  await t.rejects(sms.send({ from: '+15550100001', to: '+14155550100', body: 'x', clientReference: 'out:x' }), SmsCircuitOpenError);
  t.equal(fake.requestCount, requests, 'an open circuit does not call the provider');
  fake.setOutage(false);
  await new Promise((r) => setTimeout(r, 350));
  const ok = await sms.send({ from: '+15550100001', to: '+14155550100', body: 'back', clientReference: 'out:back' });
  t.ok(ok.providerMessageId);
  t.equal(sms.breakerState(), 'closed');
});

t.test('delivery reports and inbound messages arrive signed', async (t) => {
  const sms = client();
  t.teardown(() => sms.shutdown());
  const failed = await sms.send({ from: '+15550100001', to: '+15005550002', body: 'x', clientReference: 'dlr:1' });
  await fake.sendInbound('+14155550100', '+15005550006', 'STOP');
  for (let i = 0; i < 100 && !received.some((r) => r.url === '/status' && r.body.includes(failed.providerMessageId)); i++) await new Promise((r) => setTimeout(r, 10));
  const report = received.find((r) => r.url === '/status' && r.body.includes(failed.providerMessageId))!;
  t.equal(verifySmsWebhook(report.body, report.headers, SECRET), 'ok');
  t.match(JSON.parse(report.body.toString()), { messageId: failed.providerMessageId, status: 'failed' });
  const inbound = received.find((r) => r.url === '/inbound')!;
  t.equal(verifySmsWebhook(inbound.body, inbound.headers, SECRET), 'ok');
  t.match(JSON.parse(inbound.body.toString()), { from: '+14155550100', text: 'STOP' });
});

t.test('the number API: search, buy, buy again refused, give back; the sender is the message’s own', async (t) => {
  const sms = client();
  t.teardown(() => sms.shutdown());
  const available = await sms.availableNumbers('US');
  t.ok(available.length > 0 && available.every((n) => /^\+1555010\d{4}$/.test(n)), 'numbers for sale are E.164');
  t.same(await sms.availableNumbers('FR'), [], 'no numbers in a country the provider does not serve');
  const bought = await sms.purchaseNumber(available[0]!);
  t.equal(bought.number, available[0]);
  t.equal(fake.ownedNumbers.get(bought.providerNumberId), available[0]);
  t.notOk((await sms.availableNumbers('US')).includes(available[0]!), 'a bought number is no longer for sale');
  await t.rejects(sms.purchaseNumber(available[0]!), SmsPermanentError, 'a number already bought cannot be bought again');
  await sms.releaseNumber(bought.providerNumberId);
  t.notOk(fake.ownedNumbers.has(bought.providerNumberId), 'given back');
  const sent = await sms.send({ from: available[0]!, to: '+14155550100', body: 'from mine', clientReference: 'from:1' });
  t.equal(fake.messages.get(sent.providerMessageId)?.from, available[0], 'the message goes out from the number given');
});
