// Shops ready to send (signed up, contacts, credits, an assigned sender number), drafts,
// and the money invariant, shared by the campaign and send-pipeline tests.
import type { FastifyInstance } from 'fastify';
import { withShop } from '../../src/db/with-shop.js';
import { assignSenderNumber } from '../../src/modules/sender-numbers/service.js';
import type { TestDatabase } from './database.js';
import { signUp } from './accounts.js';
import { buyCredits, ledgerMatchesWallet as ledgerInvariant, walletOf } from './ledger.js';
import { createSmsClient } from '../../src/providers/sms/client.js';
import { startFakeSmsProvider } from '../../src/providers/sms/fake-server.js';

export const SMS_KEY = 'sms-key-for-tests';
export const SMS_SECRET = 'sms-webhook-secret-for-tests-0123456789';

/** The fake provider and a client of it, both closed at the end of the test file. */
export async function fakeProviderFor(t: { teardown(fn: () => unknown): void }, breaker: { resetTimeoutMs: number; volumeThreshold: number } = { resetTimeoutMs: 200, volumeThreshold: 4 }) {
  const fake = await startFakeSmsProvider({ apiKey: SMS_KEY, webhookSecret: SMS_SECRET });
  t.teardown(() => fake.close());
  const sms = createSmsClient({ baseUrl: fake.url, apiKey: SMS_KEY, timeoutMs: 2000, breaker: { errorThresholdPercentage: 50, ...breaker } });
  t.teardown(() => sms.shutdown());
  return { fake, sms };
}

export interface Shop {
  shopId: string;
  headers: { authorization: string };
}
export interface SendingShop extends Shop {
  contactIds: string[];
  phones: string[];
  number: string;
}

interface Assert {
  same(found: unknown, wanted: unknown, message: string): unknown;
}

let phoneSeq = 0;
let numberSeq = 0;

/** A signed-up shop with no quiet period and no frequency cap, unless `settings` sets them. */
export async function openShop(app: FastifyInstance, settings: Record<string, unknown> = {}): Promise<Shop> {
  const account = await signUp(app);
  const shop = { shopId: account.shopId, headers: account.headers };
  const res = await app.inject({ method: 'PUT', url: '/api/v1/settings', headers: shop.headers, payload: { quietHoursStart: '00:00', quietHoursEnd: '00:00', frequencyCapPerDay: 0, ...settings } });
  if (res.statusCode !== 200) throw new Error(`settings refused: ${res.statusCode} ${res.body}`);
  return shop;
}

export function campaignFixtures(app: FastifyInstance, db: TestDatabase, options: { phonePrefix: string; numberPrefix: string }) {
  /** A shop with `count` subscribed contacts, `credits` credits and (unless told not to) an assigned sender number. */
  async function shopWithContacts(count: number, credits: number, extra: Record<string, unknown> = {}, opts: { senderNumber?: boolean } = {}): Promise<SendingShop> {
    const shop = await openShop(app, extra);
    const contactIds: string[] = [];
    const phones: string[] = [];
    for (let i = 0; i < count; i++) {
      const phone = `${options.phonePrefix}${String(++phoneSeq).padStart(4, '0')}`;
      const c = await app.inject({ method: 'POST', url: '/api/v1/contacts', headers: shop.headers, payload: { phone, firstName: 'Sam', consent: 'subscribed' } });
      contactIds.push(c.json().id);
      phones.push(phone);
    }
    if (credits > 0) await buyCredits(db, shop.shopId, credits);
    const number = `${options.numberPrefix}${String(++numberSeq).padStart(4, '0')}`;
    if (opts.senderNumber !== false) await withShop(db.workerDb, shop.shopId, (tx) => assignSenderNumber(tx, shop.shopId, { number, quarantineDays: 30 }));
    return { ...shop, contactIds, phones, number };
  }

  async function draft(shop: Shop, body = 'Hi {{first_name}}, sale today at {{shop_name}}!'): Promise<string> {
    const res = await app.inject({ method: 'POST', url: '/api/v1/campaigns', headers: shop.headers, payload: { name: 'Sale', body } });
    return res.json().id as string;
  }

  const enqueue = (shop: Shop, id: string, headers: Record<string, string> = {}) => app.inject({ method: 'POST', url: `/api/v1/campaigns/${id}/enqueue`, headers: { ...shop.headers, ...headers } });
  const wallet = (shopId: string) => walletOf(db, shopId);
  const metrics = async (shop: Shop, id: string) => (await app.inject({ url: `/api/v1/campaigns/${id}/metrics`, headers: shop.headers })).json();

  const ledgerMatchesWallet = (t: Assert, shopId: string) => ledgerInvariant(db, t, shopId);

  return { shopWithContacts, draft, enqueue, wallet, metrics, ledgerMatchesWallet };
}
