// A stand-in for Shopify's Admin GraphQL API on 127.0.0.1, for the operations Pigeon uses:
//   POST /{shop}/admin/api/{version}/graphql.json  X-Shopify-Access-Token: <token>
//        {query, variables} → 200 {data, extensions: {cost: {requestedQueryCost,
//        actualQueryCost, throttleStatus}}}; 401 for a token the shop did not grant.
//   GET  /bulk/{secret}.jsonl  → a completed bulk operation's result, streamed (no token: a
//        signed URL, as Shopify's storage URLs are).
// The operation is recognised by its root field in the query text (no GraphQL engine): the
// answers have the full shape Pigeon's client selects. State: per shop, customers with their
// SMS consent (N generated ones are computed on the fly, so 100,000 cost no memory until
// changed), webhook subscriptions, one-time purchases (approve/decline/expire them),
// bulk operations (COMPLETED after `bulkPollsUntilComplete` polls, not after a time). Each
// shop has Shopify's leaky bucket (2,000 points, 100 per second restored) and answers
// THROTTLED when a query costs more than it holds; tests can also force THROTTLED answers,
// 429s with Retry-After, HTTP failures and slow answers.
//
// Mount it in another server with `handle` (fake-shopify.ts does, so that the tokens its
// OAuth grants work here), or run it alone with startFakeShopifyAdmin.
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeSmsConsent = {
  marketingState: string;
  marketingOptInLevel: string | null;
  consentUpdatedAt: string | null;
  consentCollectedFrom: string | null;
};

export interface FakeCustomer {
  id: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  tags: string[];
  updatedAt: string;
  smsMarketingConsent: FakeSmsConsent | null;
}

export interface FakeWebhookSubscription {
  id: string;
  topic: string;
  uri: string;
  format: string;
  createdAt: string;
}

export interface FakePurchase {
  id: string;
  name: string;
  price: { amount: string; currencyCode: string };
  returnUrl: string;
  test: boolean;
  status: 'PENDING' | 'ACTIVE' | 'DECLINED' | 'EXPIRED';
  createdAt: string;
  confirmationUrl: string;
}

export interface FakeBulkOperation {
  id: string;
  status: 'CREATED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELED';
  query: string;
  polls: number;
  objectCount: number;
  errorCode: string | null;
  url: string | null;
  createdAt: string;
  completedAt: string | null;
}

export interface FakeBucket {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export type FakeFault =
  | { kind: 'throttled' }
  | { kind: 'rate-limited'; retryAfter: string }
  | { kind: 'status'; status: number }
  | { kind: 'delay'; ms: number };

export interface FakeAdminRequest {
  shop: string;
  version: string;
  operation: string;
  variables: Record<string, unknown>;
  /** What the fake answered: 200, 401, 429, … and 'THROTTLED' for a throttled 200. */
  outcome: number | 'THROTTLED';
}

export interface FakeShopifyAdmin {
  /** `http://127.0.0.1:port`, set once the server listens. */
  origin: string;
  /** SHOPIFY_ADMIN_URL for the app: `{origin}/{shop}`. */
  adminUrlTemplate: string;
  /** Lets `accessToken` call the API for `shop` (a fresh token when none is given); returns it. */
  grant(shop: string, accessToken?: string): string;
  /** The shop no longer accepts this token (or any, when none is given): uninstall. */
  revoke(shop: string, accessToken?: string): void;
  /** Replaces the shop's customers by 1..count (ids gid://shopify/Customer/{firstId + i - 1}), computed when read. */
  generateCustomers(shop: string, count: number, opts?: { firstId?: number; make?: (index: number, id: string) => FakeCustomer }): void;
  /** Adds or replaces one customer. */
  putCustomer(shop: string, customer: FakeCustomer): void;
  deleteCustomer(shop: string, id: string): void;
  customer(shop: string, id: string): FakeCustomer | undefined;
  customerCount(shop: string): number;
  webhookSubscriptions(shop: string): FakeWebhookSubscription[];
  /** Removes a subscription (as the merchant, or Shopify after repeated delivery failures, does); false if unknown. */
  deleteWebhookSubscription(shop: string, id: string): boolean;
  purchases(shop: string): FakePurchase[];
  purchase(shop: string, id: string): FakePurchase | undefined;
  /** The merchant approves (ACTIVE), declines or lets expire a pending purchase. */
  setPurchaseStatus(shop: string, id: string, status: FakePurchase['status']): void;
  bulkOperations(shop: string): FakeBulkOperation[];
  /** Polls (currentBulkOperation or node) before a bulk operation is COMPLETED. Default 2. */
  bulkPollsUntilComplete: number;
  /** The next bulk operation FAILs with this errorCode (e.g. INTERNAL_SERVER_ERROR) instead. */
  failNextBulkWith: string | null;
  /** Sets a shop's bucket (the rest of it unchanged). */
  setBucket(shop: string, bucket: Partial<FakeBucket>): void;
  bucket(shop: string): FakeBucket;
  /** The next GraphQL requests (one fault each, in order) meet these instead of a normal answer. */
  faults: FakeFault[];
  throttleNext(times?: number): void;
  rateLimitNext(retryAfter: string | number, times?: number): void;
  failNext(status: number, times?: number): void;
  delayNext(ms: number, times?: number): void;
  /** Every GraphQL request, in order. */
  requests: FakeAdminRequest[];
  /** Every mutation Shopify carried out (not the refused ones), in order. */
  mutations: Array<{ shop: string; operation: string; variables: Record<string, unknown> }>;
  /** Bulk result downloads started and finished (a client that stops early never finishes one). */
  downloads: { started: number; finished: number };
  /** Answers a request if it is for the Admin API or a bulk result; false otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Drops held (delayed) answers; the server's owner closes the server. */
  stop(): void;
}

export interface StartedFakeShopifyAdmin extends FakeShopifyAdmin {
  close(): Promise<void>;
}

const GRAPHQL_PATH = /^\/([a-z0-9][a-z0-9-]*\.myshopify\.com)\/admin\/api\/([0-9]{4}-[0-9]{2}|unstable)\/graphql\.json$/;
const BULK_PATH = /^\/bulk\/([a-f0-9]{32})\.jsonl$/;

// Root fields the fake knows, by the operation Pigeon's client names in errors.
const OPERATIONS = [
  'customerSmsMarketingConsentUpdate',
  'bulkOperationRunQuery',
  'webhookSubscriptionCreate',
  'appPurchaseOneTimeCreate',
  'currentBulkOperation',
  'webhookSubscriptions',
  'node',
] as const;
type Operation = (typeof OPERATIONS)[number];
const MUTATIONS = new Set<Operation>(['customerSmsMarketingConsentUpdate', 'bulkOperationRunQuery', 'webhookSubscriptionCreate', 'appPurchaseOneTimeCreate']);
const COST: Record<Operation, number> = {
  customerSmsMarketingConsentUpdate: 10,
  bulkOperationRunQuery: 10,
  webhookSubscriptionCreate: 10,
  appPurchaseOneTimeCreate: 10,
  currentBulkOperation: 1,
  webhookSubscriptions: 12,
  node: 1,
};

interface ShopState {
  tokens: Set<string>;
  generated: { count: number; firstId: number; make: (index: number, id: string) => FakeCustomer };
  /** Changed generated customers and added ones, by id; null: deleted. */
  changed: Map<string, FakeCustomer | null>;
  webhooks: FakeWebhookSubscription[];
  purchases: Map<string, FakePurchase>;
  bulk: Map<string, FakeBulkOperation>;
  bucket: FakeBucket & { at: number };
}

/** The generated customer `index` (1-based): deterministic names, phones, tags and consent. */
export function generatedCustomer(index: number, id: string): FakeCustomer {
  const states = [
    { marketingState: 'SUBSCRIBED', marketingOptInLevel: 'SINGLE_OPT_IN' },
    { marketingState: 'NOT_SUBSCRIBED', marketingOptInLevel: 'SINGLE_OPT_IN' },
    { marketingState: 'UNSUBSCRIBED', marketingOptInLevel: 'SINGLE_OPT_IN' },
    { marketingState: 'SUBSCRIBED', marketingOptInLevel: 'CONFIRMED_OPT_IN' },
  ] as const;
  const at = new Date(Date.UTC(2024, 0, 1) + index * 1000).toISOString().replace('.000Z', 'Z');
  const state = states[index % states.length]!;
  return {
    id,
    firstName: `First${index}`,
    lastName: `Last${index}`,
    // Valid, distinct US numbers (212-2xx-xxxx) for up to 8 million customers.
    phone: `+1212${String(2_000_000 + index)}`,
    tags: index % 3 === 0 ? ['vip', 'newsletter'] : index % 3 === 1 ? ['newsletter'] : [],
    updatedAt: at,
    smsMarketingConsent: { ...state, consentUpdatedAt: at, consentCollectedFrom: index % 2 ? 'SHOPIFY' : 'OTHER' },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const nowIso = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
const gidNumber = (id: string) => Number(/\/(\d+)$/.exec(id)?.[1] ?? NaN);

/** The root field the query selects first, among those the fake knows. */
function operationIn(query: string): Operation | null {
  // The selection set starts after the operation's header `query Name($v: T) {` or `{`.
  const body = query.slice(query.indexOf('{') + 1);
  let best: { op: Operation; at: number } | null = null;
  for (const op of OPERATIONS) {
    const match = new RegExp(`(^|[^A-Za-z0-9_])${op}\\s*[({]`).exec(body);
    if (match && (!best || match.index < best.at)) best = { op, at: match.index };
  }
  return best?.op ?? null;
}

export function createFakeShopifyAdmin(): FakeShopifyAdmin {
  const shops = new Map<string, ShopState>();
  const bulkBySecret = new Map<string, { shop: string; id: string }>();
  const held = new Set<NodeJS.Timeout>();
  let sequence = 1000;

  const state = (shop: string): ShopState => {
    let s = shops.get(shop);
    if (!s) {
      s = {
        tokens: new Set(),
        generated: { count: 0, firstId: 1, make: generatedCustomer },
        changed: new Map(),
        webhooks: [],
        purchases: new Map(),
        bulk: new Map(),
        bucket: { maximumAvailable: 2000, currentlyAvailable: 2000, restoreRate: 100, at: Date.now() },
      };
      shops.set(shop, s);
    }
    return s;
  };

  const generatedIndex = (s: ShopState, id: string): number | null => {
    if (!id.startsWith('gid://shopify/Customer/')) return null;
    const index = gidNumber(id) - s.generated.firstId + 1;
    return Number.isInteger(index) && index >= 1 && index <= s.generated.count ? index : null;
  };
  const customerOf = (s: ShopState, id: string): FakeCustomer | undefined => {
    if (s.changed.has(id)) return s.changed.get(id) ?? undefined;
    const index = generatedIndex(s, id);
    return index === null ? undefined : s.generated.make(index, id);
  };
  function* allCustomers(s: ShopState): Generator<FakeCustomer> {
    for (let index = 1; index <= s.generated.count; index++) {
      const id = `gid://shopify/Customer/${s.generated.firstId + index - 1}`;
      const changed = s.changed.get(id);
      if (changed === null) continue;
      yield changed ?? s.generated.make(index, id);
    }
    for (const [id, customer] of s.changed) if (customer && generatedIndex(s, id) === null) yield customer;
  }
  const countOf = (s: ShopState): number => {
    let count = s.generated.count;
    for (const [id, customer] of s.changed) {
      const generated = generatedIndex(s, id) !== null;
      if (generated && customer === null) count--;
      if (!generated && customer) count++;
    }
    return count;
  };

  const restore = (s: ShopState) => {
    const now = Date.now();
    const b = s.bucket;
    b.currentlyAvailable = Math.min(b.maximumAvailable, b.currentlyAvailable + ((now - b.at) / 1000) * b.restoreRate);
    b.at = now;
  };
  const throttleStatus = (s: ShopState) => ({
    maximumAvailable: s.bucket.maximumAvailable,
    currentlyAvailable: Math.floor(s.bucket.currentlyAvailable),
    restoreRate: s.bucket.restoreRate,
  });

  const fake: FakeShopifyAdmin = {
    origin: '',
    adminUrlTemplate: '',
    bulkPollsUntilComplete: 2,
    failNextBulkWith: null,
    faults: [],
    requests: [],
    mutations: [],
    downloads: { started: 0, finished: 0 },
    grant(shop, accessToken) {
      const token = accessToken ?? `shpat_${randomBytes(16).toString('hex')}`;
      state(shop).tokens.add(token);
      return token;
    },
    revoke(shop, accessToken) {
      if (accessToken === undefined) state(shop).tokens.clear();
      else state(shop).tokens.delete(accessToken);
    },
    generateCustomers(shop, count, opts = {}) {
      const s = state(shop);
      s.generated = { count, firstId: opts.firstId ?? 1, make: opts.make ?? generatedCustomer };
      s.changed.clear();
    },
    putCustomer(shop, customer) {
      state(shop).changed.set(customer.id, structuredClone(customer));
    },
    deleteCustomer(shop, id) {
      state(shop).changed.set(id, null);
    },
    customer(shop, id) {
      const found = customerOf(state(shop), id);
      return found ? structuredClone(found) : undefined;
    },
    customerCount: (shop) => countOf(state(shop)),
    webhookSubscriptions: (shop) => state(shop).webhooks.map((w) => ({ ...w })),
    deleteWebhookSubscription(shop, id) {
      const s = state(shop);
      const before = s.webhooks.length;
      s.webhooks = s.webhooks.filter((w) => w.id !== id);
      return s.webhooks.length < before;
    },
    purchases: (shop) => [...state(shop).purchases.values()].map((p) => structuredClone(p)),
    purchase(shop, id) {
      const found = state(shop).purchases.get(id);
      return found ? structuredClone(found) : undefined;
    },
    setPurchaseStatus(shop, id, status) {
      const purchase = state(shop).purchases.get(id);
      if (!purchase) throw new Error(`no purchase ${id} for ${shop}`);
      purchase.status = status;
    },
    bulkOperations: (shop) => [...state(shop).bulk.values()].map((b) => ({ ...b })),
    setBucket(shop, bucket) {
      const s = state(shop);
      Object.assign(s.bucket, bucket, { at: Date.now() });
    },
    bucket(shop) {
      const s = state(shop);
      restore(s);
      return { ...throttleStatus(s), currentlyAvailable: s.bucket.currentlyAvailable };
    },
    throttleNext(times = 1) {
      for (let i = 0; i < times; i++) fake.faults.push({ kind: 'throttled' });
    },
    rateLimitNext(retryAfter, times = 1) {
      for (let i = 0; i < times; i++) fake.faults.push({ kind: 'rate-limited', retryAfter: String(retryAfter) });
    },
    failNext(status, times = 1) {
      for (let i = 0; i < times; i++) fake.faults.push({ kind: 'status', status });
    },
    delayNext(ms, times = 1) {
      for (let i = 0; i < times; i++) fake.faults.push({ kind: 'delay', ms });
    },
    handle(req, res) {
      const path = (req.url ?? '').split('?')[0]!;
      const bulk = BULK_PATH.exec(path);
      if (bulk && req.method === 'GET') {
        void serveBulk(bulk[1]!, res);
        return true;
      }
      const graphql = GRAPHQL_PATH.exec(path);
      if (!graphql) return false;
      void serveGraphql(req, res, graphql[1]!, graphql[2]!).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
      return true;
    },
    stop() {
      for (const timer of held) clearTimeout(timer);
      held.clear();
    },
  };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    if (res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers }).end(JSON.stringify(body));
  };

  async function serveGraphql(req: IncomingMessage, res: ServerResponse, shop: string, version: string): Promise<void> {
    const raw = await readBody(req);
    let parsed: { query?: unknown; variables?: unknown };
    try {
      parsed = JSON.parse(raw) as typeof parsed;
    } catch {
      parsed = {};
    }
    const query = typeof parsed?.query === 'string' ? parsed.query : '';
    const variables = parsed?.variables && typeof parsed.variables === 'object' ? (parsed.variables as Record<string, unknown>) : {};
    const operation = operationIn(query);
    const record = (outcome: FakeAdminRequest['outcome']) => fake.requests.push({ shop, version, operation: operation ?? 'unknown', variables, outcome });

    const s = shops.get(shop);
    const token = req.headers['x-shopify-access-token'];
    if (!s || typeof token !== 'string' || !s.tokens.has(token)) {
      record(401);
      json(res, 401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' });
      return;
    }
    if (!query) {
      record(400);
      json(res, 400, { errors: { query: 'Required parameter missing or invalid' } });
      return;
    }

    const fault = fake.faults.shift();
    if (fault?.kind === 'status') {
      record(fault.status);
      json(res, fault.status, { errors: 'Internal Server Error' });
      return;
    }
    if (fault?.kind === 'rate-limited') {
      record(429);
      json(res, 429, { errors: 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.' }, { 'retry-after': fault.retryAfter });
      return;
    }
    if (fault?.kind === 'delay') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          held.delete(timer);
          resolve();
        }, fault.ms);
        held.add(timer);
        res.once('close', () => {
          clearTimeout(timer);
          held.delete(timer);
          resolve();
        });
      });
      if (res.destroyed || res.writableEnded) return;
    }

    if (!operation) {
      record(200);
      json(res, 200, { errors: [{ message: 'Field does not exist on type QueryRoot', extensions: { code: 'undefinedField' } }] });
      return;
    }
    const cost = COST[operation];
    restore(s);
    if (fault?.kind === 'throttled' || cost > s.bucket.currentlyAvailable) {
      // A forced throttle reports an empty bucket, so the client's wait is cost / restoreRate.
      if (fault?.kind === 'throttled') s.bucket.currentlyAvailable = 0;
      record('THROTTLED');
      json(res, 200, {
        errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
        extensions: { cost: { requestedQueryCost: cost, actualQueryCost: null, throttleStatus: throttleStatus(s) } },
      });
      return;
    }
    s.bucket.currentlyAvailable -= cost;
    record(200);
    const answer = execute(shop, s, operation, query, variables);
    json(res, 200, { ...answer, extensions: { cost: { requestedQueryCost: cost, actualQueryCost: cost, throttleStatus: throttleStatus(s) } } });
  }

  function execute(shop: string, s: ShopState, operation: Operation, query: string, variables: Record<string, unknown>): { data?: unknown; errors?: unknown } {
    const done = (data: Record<string, unknown>) => {
      const payload = data[operation] as { userErrors?: unknown[] } | undefined;
      if (MUTATIONS.has(operation) && payload && Array.isArray(payload.userErrors) && payload.userErrors.length === 0) {
        fake.mutations.push({ shop, operation, variables: structuredClone(variables) });
      }
      return { data };
    };
    switch (operation) {
      case 'customerSmsMarketingConsentUpdate': {
        const input = (variables.input ?? {}) as { customerId?: unknown; smsMarketingConsent?: Record<string, unknown> };
        const consent = input.smsMarketingConsent ?? {};
        const refuse = (field: string[], message: string, code: string) => done({ [operation]: { customer: null, userErrors: [{ field, message, code }] } });
        const customer = typeof input.customerId === 'string' ? customerOf(s, input.customerId) : undefined;
        if (!customer) return refuse(['input', 'customerId'], 'Customer not found', 'INVALID');
        if (!customer.phone) return refuse(['input', 'smsMarketingConsent'], 'A phone number is required to set the SMS consent state.', 'MISSING_ARGUMENT');
        if (!['SUBSCRIBED', 'UNSUBSCRIBED', 'PENDING'].includes(String(consent.marketingState))) {
          return refuse(['input', 'smsMarketingConsent', 'marketingState'], 'Marketing state is invalid', 'INCLUSION');
        }
        if (consent.marketingOptInLevel !== undefined && !['SINGLE_OPT_IN', 'CONFIRMED_OPT_IN', 'UNKNOWN'].includes(String(consent.marketingOptInLevel))) {
          return refuse(['input', 'smsMarketingConsent', 'marketingOptInLevel'], 'Marketing opt in level is invalid', 'INCLUSION');
        }
        const at = typeof consent.consentUpdatedAt === 'string' ? consent.consentUpdatedAt : nowIso();
        if (Number.isNaN(Date.parse(at))) return refuse(['input', 'smsMarketingConsent', 'consentUpdatedAt'], 'Consent updated at is invalid', 'INVALID');
        const updated: FakeCustomer = {
          ...customer,
          updatedAt: nowIso(),
          smsMarketingConsent: {
            marketingState: String(consent.marketingState),
            marketingOptInLevel: typeof consent.marketingOptInLevel === 'string' ? consent.marketingOptInLevel : (customer.smsMarketingConsent?.marketingOptInLevel ?? 'UNKNOWN'),
            consentUpdatedAt: at,
            consentCollectedFrom: 'OTHER',
          },
        };
        s.changed.set(customer.id, updated);
        return done({ [operation]: { customer: { id: updated.id, smsMarketingConsent: updated.smsMarketingConsent }, userErrors: [] } });
      }
      case 'bulkOperationRunQuery': {
        const inner = typeof variables.query === 'string' ? variables.query : '';
        const running = [...s.bulk.values()].find((b) => b.status === 'CREATED' || b.status === 'RUNNING');
        if (running) {
          return done({
            [operation]: { bulkOperation: null, userErrors: [{ field: null, message: `A bulk query operation for this app and shop is already in progress: ${running.id}.`, code: 'OPERATION_IN_PROGRESS' }] },
          });
        }
        if (!/\bcustomers\b/.test(inner)) {
          return done({ [operation]: { bulkOperation: null, userErrors: [{ field: ['query'], message: 'The fake only runs bulk queries over customers', code: 'INVALID' }] } });
        }
        const bulk: FakeBulkOperation = {
          id: `gid://shopify/BulkOperation/${++sequence}`,
          status: 'CREATED',
          query: inner,
          polls: 0,
          objectCount: 0,
          errorCode: null,
          url: null,
          createdAt: nowIso(),
          completedAt: null,
        };
        s.bulk.set(bulk.id, bulk);
        return done({ [operation]: { bulkOperation: bulkView(bulk), userErrors: [] } });
      }
      case 'currentBulkOperation': {
        const type = variables.type ?? (/type:\s*MUTATION/.test(query) ? 'MUTATION' : 'QUERY');
        const latest = type === 'QUERY' ? [...s.bulk.values()].at(-1) : undefined;
        return done({ currentBulkOperation: latest ? bulkView(poll(shop, s, latest)) : null });
      }
      case 'node': {
        const id = typeof variables.id === 'string' ? variables.id : (/node\s*\(\s*id:\s*"([^"]+)"/.exec(query)?.[1] ?? '');
        const bulk = s.bulk.get(id);
        if (bulk) return done({ node: { __typename: 'BulkOperation', ...bulkView(poll(shop, s, bulk)) } });
        const purchase = s.purchases.get(id);
        if (purchase) return done({ node: { __typename: 'AppPurchaseOneTime', ...purchaseView(purchase) } });
        const customer = customerOf(s, id);
        if (customer) return done({ node: { __typename: 'Customer', ...customer } });
        return done({ node: null });
      }
      case 'webhookSubscriptionCreate': {
        const topic = String(variables.topic ?? '');
        const input = (variables.webhookSubscription ?? {}) as { uri?: unknown; callbackUrl?: unknown; format?: unknown };
        const uri = typeof input.uri === 'string' ? input.uri : typeof input.callbackUrl === 'string' ? input.callbackUrl : '';
        const refuse = (field: string[], message: string) => done({ [operation]: { webhookSubscription: null, userErrors: [{ field, message }] } });
        if (!/^[A-Z][A-Z0-9_]*$/.test(topic)) return refuse(['topic'], 'Topic is invalid');
        if (!/^https?:\/\/[^\s]+$/.test(uri)) return refuse(['webhookSubscription', 'uri'], 'Address is invalid');
        if (s.webhooks.some((w) => w.topic === topic && w.uri === uri)) return refuse(['webhookSubscription', 'callbackUrl'], 'Address for this topic has already been taken');
        const subscription: FakeWebhookSubscription = {
          id: `gid://shopify/WebhookSubscription/${++sequence}`,
          topic,
          uri,
          format: input.format === 'XML' ? 'XML' : 'JSON',
          createdAt: nowIso(),
        };
        s.webhooks.push(subscription);
        return done({ [operation]: { webhookSubscription: subscription, userErrors: [] } });
      }
      case 'webhookSubscriptions': {
        const first = Math.min(250, Math.max(1, Number(variables.first ?? 50)));
        const after = typeof variables.after === 'string' ? Number(Buffer.from(variables.after, 'base64url').toString('utf8')) : -1;
        const start = Number.isInteger(after) ? after + 1 : 0;
        const page = s.webhooks.slice(start, start + first);
        const cursor = (i: number) => Buffer.from(String(i), 'utf8').toString('base64url');
        return done({
          webhookSubscriptions: {
            edges: page.map((node, i) => ({ cursor: cursor(start + i), node })),
            nodes: page,
            pageInfo: { hasNextPage: start + first < s.webhooks.length, endCursor: page.length ? cursor(start + page.length - 1) : null },
          },
        });
      }
      case 'appPurchaseOneTimeCreate': {
        const price = (variables.price ?? {}) as { amount?: unknown; currencyCode?: unknown };
        const refuse = (field: string[], message: string) =>
          done({ [operation]: { appPurchaseOneTime: null, confirmationUrl: null, userErrors: [{ field, message }] } });
        const name = typeof variables.name === 'string' ? variables.name : '';
        const amount = Number(price.amount);
        if (!name) return refuse(['name'], "Name can't be blank");
        if (!Number.isFinite(amount) || amount < 0.5) return refuse(['price', 'amount'], 'Price must be at least 0.50');
        if (typeof price.currencyCode !== 'string' || !/^[A-Z]{3}$/.test(price.currencyCode)) return refuse(['price', 'currencyCode'], 'Currency code is invalid');
        if (typeof variables.returnUrl !== 'string' || !/^https?:\/\//.test(variables.returnUrl)) return refuse(['returnUrl'], 'Return url is invalid');
        const number = ++sequence;
        const purchase: FakePurchase = {
          id: `gid://shopify/AppPurchaseOneTime/${number}`,
          name,
          price: { amount: amount.toFixed(2), currencyCode: price.currencyCode },
          returnUrl: variables.returnUrl,
          test: variables.test === true,
          status: 'PENDING',
          createdAt: nowIso(),
          confirmationUrl: `${fake.origin}/${shop}/admin/charges/pigeon/${number}/purchase_one_time/confirm?signature=${randomBytes(12).toString('hex')}`,
        };
        s.purchases.set(purchase.id, purchase);
        return done({ [operation]: { appPurchaseOneTime: purchaseView(purchase), confirmationUrl: purchase.confirmationUrl, userErrors: [] } });
      }
    }
  }

  const bulkView = (b: FakeBulkOperation) => ({
    id: b.id,
    status: b.status,
    errorCode: b.errorCode,
    objectCount: String(b.objectCount),
    url: b.url,
    partialDataUrl: null,
    createdAt: b.createdAt,
    completedAt: b.completedAt,
    type: 'QUERY',
  });
  const purchaseView = (p: FakePurchase) => ({ id: p.id, name: p.name, status: p.status, test: p.test, createdAt: p.createdAt, price: { ...p.price } });

  /** A poll moves a bulk operation along: RUNNING, then COMPLETED (or FAILED) after enough polls. */
  function poll(shop: string, s: ShopState, b: FakeBulkOperation): FakeBulkOperation {
    if (b.status !== 'CREATED' && b.status !== 'RUNNING') return b;
    b.polls++;
    const total = countOf(s);
    if (b.polls < fake.bulkPollsUntilComplete) {
      b.status = 'RUNNING';
      b.objectCount = Math.floor((total * b.polls) / fake.bulkPollsUntilComplete);
      return b;
    }
    b.completedAt = nowIso();
    if (fake.failNextBulkWith) {
      b.status = 'FAILED';
      b.errorCode = fake.failNextBulkWith;
      fake.failNextBulkWith = null;
      return b;
    }
    b.status = 'COMPLETED';
    b.objectCount = total;
    if (total > 0) {
      const secret = randomBytes(16).toString('hex');
      bulkBySecret.set(secret, { shop, id: b.id });
      b.url = `${fake.origin}/bulk/${secret}.jsonl`;
    }
    return b;
  }

  /** Streams the shop's customers as JSONL, a few hundred lines per write, waiting for the reader. */
  async function serveBulk(secret: string, res: ServerResponse): Promise<void> {
    const found = bulkBySecret.get(secret);
    if (!found) {
      res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>AccessDenied</Code></Error>');
      return;
    }
    fake.downloads.started++;
    const s = state(found.shop);
    res.writeHead(200, { 'content-type': 'application/jsonl' });
    let closed = false;
    res.once('close', () => (closed = true));
    let batch: string[] = [];
    for (const customer of allCustomers(s)) {
      if (closed) return;
      batch.push(JSON.stringify(customer));
      if (batch.length === 500) {
        const more = res.write(`${batch.join('\n')}\n`);
        batch = [];
        if (!more) {
          await new Promise<void>((resolve) => {
            const go = () => {
              res.off('drain', go);
              res.off('close', go);
              resolve();
            };
            res.on('drain', go);
            res.on('close', go);
          });
        }
      }
    }
    if (closed) return;
    res.end(batch.length ? `${batch.join('\n')}\n` : undefined);
    fake.downloads.finished++;
  }

  return fake;
}

/** The fake alone on 127.0.0.1 (a random port). */
export async function startFakeShopifyAdmin(): Promise<StartedFakeShopifyAdmin> {
  const fake = createFakeShopifyAdmin();
  const server = createServer((req, res) => {
    if (!fake.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.adminUrlTemplate = `${fake.origin}/{shop}`;
  return Object.assign(fake, {
    close: () =>
      new Promise<void>((resolve) => {
        fake.stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}
