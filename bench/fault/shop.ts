// The tenant the scenarios send for: signed up through the HTTP API, contacts inserted in
// bulk (as bench/send.ts seeds them: the import's cost is not what this benchmark measures),
// credits added the way an operator does (`npm run wallet:adjust`: the same function, as the
// worker role, audited). One shop for every scenario: signup is limited to 3 an hour per
// address, and a fresh campaign per scenario is enough to keep the scenarios apart.
import pg from 'pg';
import { createDb, createPool } from '../../src/db/kysely.js';
import { withShop } from '../../src/db/with-shop.js';
import { assignSenderNumber } from '../../src/modules/sender-numbers/service.js';
import { adjustWallet } from '../../src/modules/wallet/adjust.js';

const EMAIL = 'fault@example.test';
const PASSWORD = 'correct horse battery staple';

export class ApiClient {
  private token = '';
  private next = 0;

  /** Requests alternate between the API processes, as behind a load balancer. */
  constructor(private readonly bases: string[]) {}

  async request<T>(method: string, url: string, body?: unknown): Promise<{ status: number; json: T }> {
    const base = this.bases[this.next++ % this.bases.length]!;
    const response = await fetch(`${base}${url}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, json: (text ? JSON.parse(text) : null) as T };
  }

  async must<T>(method: string, url: string, body?: unknown, expected = [200, 201]): Promise<T> {
    const { status, json } = await this.request<T>(method, url, body);
    if (!expected.includes(status)) throw new Error(`${method} ${url}: ${status} ${JSON.stringify(json)}`);
    return json;
  }

  async signup(): Promise<string> {
    const result = await this.must<{ shop: { id: string }; accessToken: string }>('POST', '/api/v1/auth/signup', { email: EMAIL, password: PASSWORD, shopName: 'Fault bench' });
    this.token = result.accessToken;
    return result.shop.id;
  }

  /** A fresh access token per scenario: a run with long deadlines outlives the token's TTL. */
  async login(): Promise<void> {
    this.token = (await this.must<{ accessToken: string }>('POST', '/api/v1/auth/login', { email: EMAIL, password: PASSWORD })).accessToken;
  }
}

export async function seedShop(options: { api: ApiClient; superuserUrl: string; workerUrl: string; contacts: number; credits: number }): Promise<string> {
  const shopId = await options.api.signup();
  // Quiet hours off and no frequency cap: the run must not depend on the clock, and every
  // scenario sends to the same contacts on the same day.
  await options.api.must('PUT', '/api/v1/settings', { quietHoursStart: '00:00', quietHoursEnd: '00:00', frequencyCapPerDay: 0 });
  const admin = new pg.Client({ connectionString: options.superuserUrl });
  await admin.connect();
  try {
    await admin.query(
      `insert into app.contacts (shop_id, phone_e164, first_name, consent_state, time_zone)
       select $1, '+1' || (2000000000 + g)::text, 'First' || (g % 5000), 'subscribed', 'UTC' from generate_series(1, $2) g`,
      [shopId, options.contacts],
    );
    await admin.query('analyze');
  } finally {
    await admin.end();
  }
  const db = createDb(createPool({ connectionString: options.workerUrl, poolSize: 1, applicationName: 'bench-fault-wallet-adjust' }));
  try {
    await adjustWallet(db, { shopId, credits: options.credits, reason: 'fault benchmark credits', operator: 'bench:fault' });
    // A sending number, as `npm run numbers:assign` gives one (same function, worker role, audited).
    await withShop(db, shopId, (tx) => assignSenderNumber(tx, shopId, { number: '+15550100001', operator: 'bench:fault', quarantineDays: 30 }));
  } finally {
    await db.destroy();
  }
  return shopId;
}
