// The generated client (openapi-typescript types in test/helpers/api-types.ts + openapi-fetch)
// against a listening app, end to end and without a cast: signup → contact → CSV import
// (multipart) → campaign → enqueue refused with 402 and its typed details → credits and a
// sender number arranged as the fixtures do → enqueue accepted.
import t from 'tap';
import { randomUUID } from 'node:crypto';
import createClient from 'openapi-fetch';
import { withShop } from '../src/db/with-shop.js';
import { assignSenderNumber } from '../src/modules/sender-numbers/service.js';
import type { paths } from './helpers/api-types.js';
import { buildTestApp } from './helpers/app.js';
import { createTestDatabase } from './helpers/database.js';
import { buyCredits } from './helpers/ledger.js';

const db = await createTestDatabase(t);
const { app } = await buildTestApp(t, db.apiDb, { ARGON2_MEMORY_KIB: '8192', ARGON2_TIME_COST: '1' });
const baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });

t.test('signup → contact → import → campaign → enqueue (402, then 200) with the generated client', async (t) => {
  const client = createClient<paths>({ baseUrl });

  const signup = await client.POST('/api/v1/auth/signup', { body: { email: `${randomUUID()}@example.test`, password: 'correct horse battery staple', shopName: 'Client Shop' } });
  if (!signup.data) throw new Error(`signup: ${signup.response.status}`);
  t.equal(signup.response.status, 201);
  const shopId = signup.data.shop.id;
  client.use({ onRequest: ({ request }) => (request.headers.set('Authorization', `Bearer ${signup.data.accessToken}`), request) });
  // No quiet hours: the campaign may be queued whatever the time of the run.
  const settings = await client.PUT('/api/v1/settings', { body: { quietHoursStart: '00:00', quietHoursEnd: '00:00', frequencyCapPerDay: 0 } });
  t.equal(settings.response.status, 200, 'settings');

  const contact = await client.POST('/api/v1/contacts', { body: { phone: '+14155550123', firstName: 'Sam', consent: 'subscribed' } });
  if (!contact.data) throw new Error(`contact: ${contact.response.status}`);
  t.equal(contact.response.status, 201);
  t.equal(contact.data.phone, '+14155550123');

  const upload = await client.POST('/api/v1/contacts/imports', {
    body: { consent: 'subscribed', file: 'phone,first_name\n+14155550124,Alex\n+14155550125,Kim\n' },
    // Fields first, then the file (the server reads them in order).
    bodySerializer: (body) => {
      const form = new FormData();
      if (body.consent) form.append('consent', body.consent);
      form.append('file', new Blob([body.file], { type: 'text/csv' }), 'contacts.csv');
      return form;
    },
  });
  if (!upload.data) throw new Error(`import: ${upload.response.status} ${JSON.stringify(upload.error)}`);
  t.equal(upload.response.status, 202);
  t.equal(upload.data.rows, 2);
  const imported = await client.GET('/api/v1/contacts/imports/{id}', { params: { path: { id: upload.data.id } } });
  t.equal(imported.data?.id, upload.data.id, 'the import can be followed');

  const campaign = await client.POST('/api/v1/campaigns', { body: { name: 'Launch', body: 'Hi {{first_name}}, we are open!' } });
  if (!campaign.data) throw new Error(`campaign: ${campaign.response.status}`);
  t.equal(campaign.data.status, 'draft');
  const id = campaign.data.id;

  // As test/helpers/campaign-fixtures.ts: a sender number is an operator's to assign (without one, 409 NO_SENDER_NUMBER).
  await withShop(db.workerDb, shopId, (tx) => assignSenderNumber(tx, shopId, { number: '+14155559901', quarantineDays: 30 }));
  const refused = await client.POST('/api/v1/campaigns/{id}/enqueue', { params: { path: { id } } });
  t.equal(refused.response.status, 402, 'no credits');
  const details = refused.error?.error.details;
  if (!details || Array.isArray(details)) throw new Error('a 402 has the credit shortfall as details');
  t.same(details, { creditsNeeded: 1, creditsAvailable: 0 }, 'one subscribed contact, one segment; nothing available');
  const wallet = await client.GET('/api/v1/wallet');
  t.same(wallet.data, { balance: 0, reserved: 0, available: 0 }, 'the refusal changed nothing');

  // As the fixtures do: credits are bought, not given by the API.
  await buyCredits(db, shopId, 10);

  const accepted = await client.POST('/api/v1/campaigns/{id}/enqueue', { params: { path: { id } }, headers: { 'idempotency-key': randomUUID() } });
  if (!accepted.data) throw new Error(`enqueue: ${accepted.response.status} ${JSON.stringify(accepted.error)}`);
  t.equal(accepted.response.status, 200);
  t.equal(accepted.data.status, 'queued');
  t.equal(accepted.data.estimate.recipients, 1);
  t.equal(accepted.data.creditsReserved, 1);
  const after = await client.GET('/api/v1/wallet');
  t.same(after.data, { balance: 10, reserved: 1, available: 9 });
});
