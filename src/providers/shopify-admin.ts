// Shopify's Admin GraphQL API, as Pigeon calls it after the install:
//   POST {admin}/admin/api/{SHOPIFY_API_VERSION}/graphql.json  X-Shopify-Access-Token: <offline token>
// (test/helpers/fake-shopify-admin.ts speaks it). Every call has a timeout and fails with a
// typed ShopifyAdminError; no token, query result or response body is ever put in an error
// message (Shopify's user errors are kept on the error, for the caller to log with care).
//
// Throttling follows Shopify's cost-based leaky bucket. Each answer reports
// `extensions.cost.throttleStatus` {maximumAvailable, currentlyAvailable, restoreRate}; the
// client keeps that per shop, remembers what each query cost last time, and waits before a
// request that would cost more than the bucket holds now (reserving its cost first, so
// concurrent calls for one shop queue instead of all being refused). A THROTTLED answer or an
// HTTP 429 (Retry-After) is waited out and retried, a bounded number of times: Shopify did
// not run those requests, so a retry cannot do anything twice. Nothing else is retried here
// (a mutation that timed out may have happened): jobs retry with graphile-worker's backoff.
//
// As in the SMS client, an opossum circuit breaker opens after repeated transport failures
// (timeouts, unreachable, 5xx), so that a Shopify outage costs one fast refusal per call; a
// refusal that is about the request or the shop (4xx, GraphQL or user errors) never opens it.
//
// Bulk results are JSONL files at a signed URL (no token is sent there): streamJsonl reads
// one line at a time, so a result of any size is never held whole in memory.
import { setTimeout as sleepFor } from 'node:timers/promises';
import CircuitBreaker from 'opossum';
import { Agent, errors as undiciErrors, request as undiciRequest, type Dispatcher } from 'undici';
import { shopAdminUrl } from './shopify.js';

export type ShopifyAdminErrorCode =
  | 'TIMEOUT'
  | 'NETWORK'
  | 'HTTP_STATUS'
  | 'THROTTLED'
  | 'GRAPHQL'
  | 'USER_ERRORS'
  | 'BAD_RESPONSE'
  | 'CIRCUIT_OPEN';

export interface ShopifyUserError {
  field: string[] | null;
  message: string;
  code?: string | null;
}

export class ShopifyAdminError extends Error {
  /** GraphQL `extensions.code`s, or user-error codes: Shopify's words, never data. */
  readonly codes: string[];
  /** The mutation's `userErrors` (USER_ERRORS only). Their messages may quote input: log with care. */
  readonly userErrors: ShopifyUserError[];
  constructor(
    readonly code: ShopifyAdminErrorCode,
    message: string,
    details: { status?: number; operation?: string; codes?: string[]; userErrors?: ShopifyUserError[]; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'ShopifyAdminError';
    this.status = details.status;
    this.operation = details.operation;
    this.retryAfterMs = details.retryAfterMs;
    this.codes = details.codes ?? [];
    this.userErrors = details.userErrors ?? [];
  }
  readonly status: number | undefined;
  readonly operation: string | undefined;
  /** THROTTLED: how long Shopify asked to wait (when the client gave up waiting). */
  readonly retryAfterMs: number | undefined;

  /** Worth trying again later (a job retry): outages, throttling. Not: refusals of the request itself. */
  get retryable(): boolean {
    if (this.code === 'HTTP_STATUS') return this.status === undefined || this.status >= 500 || this.status === 408 || this.status === 429;
    return this.code === 'TIMEOUT' || this.code === 'NETWORK' || this.code === 'THROTTLED' || this.code === 'CIRCUIT_OPEN';
  }

  /** The shop's token is no longer accepted (uninstalled, revoked): 401, or 403 for a missing scope. */
  get unauthorized(): boolean {
    return this.code === 'HTTP_STATUS' && (this.status === 401 || this.status === 403);
  }
}

export interface ShopifyAdminOptions {
  /** `https://{shop}` in production (SHOPIFY_ADMIN_URL); a fake's address in tests. */
  adminUrlTemplate: string;
  /** SHOPIFY_API_VERSION, e.g. '2025-10'. */
  apiVersion: string;
  /** Each request (and each wait for a bulk result's next part). Default 10 s. */
  timeoutMs?: number;
  /** Tries of one request while Shopify answers THROTTLED / 429. Default 5. */
  maxAttempts?: number;
  /** Longest single wait for throttling; asked to wait longer, the call fails THROTTLED with retryAfterMs. Default 60 s. */
  maxWaitMs?: number;
  /** Largest GraphQL answer read. Default 4 MiB. */
  maxResponseBytes?: number;
  /** The circuit breaker over transport failures, or false for none. */
  breaker?: { errorThresholdPercentage: number; resetTimeoutMs: number; volumeThreshold: number } | false;
  onBreakerState?: (state: 'open' | 'halfOpen' | 'closed') => void;
  /** How the client waits (throttling, bulk polling). Tests wrap it to see the waits. */
  sleep?: (ms: number) => Promise<void>;
}

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface RequestOptions {
  /** Names the call in errors and logs; default: the operation name in the query text. */
  operation?: string;
  /** Expected cost when this query has not been seen before (default 10: a single-object query or a mutation). */
  cost?: number;
}

/** One shop's Admin API, with its token. */
export interface ShopifyGraphqlClient {
  readonly shop: string;
  /** The `data` of a successful answer; top-level errors become a GRAPHQL ShopifyAdminError. */
  request<T>(query: string, variables?: Record<string, unknown>, options?: RequestOptions): Promise<T>;
  /** The shop's bucket as last reported by Shopify, restored to now by the client's estimate. */
  throttleStatus(): ThrottleStatus | null;
  /** The client's way of waiting (for polling loops). */
  sleep(ms: number): Promise<void>;
}

export interface ShopifyAdmin {
  forShop(shop: string, accessToken: string): ShopifyGraphqlClient;
  breakerState(): 'open' | 'halfOpen' | 'closed';
  close(): Promise<void>;
}

interface Bucket extends ThrottleStatus {
  at: number;
}

interface GraphqlCost {
  requestedQueryCost?: number;
  throttleStatus?: ThrottleStatus;
}

interface Attempt {
  shop: string;
  accessToken: string;
  operation: string;
  body: string;
}
type AttemptResult =
  | { kind: 'ok'; data: unknown; cost: GraphqlCost | undefined }
  | { kind: 'refused'; error: ShopifyAdminError; cost: GraphqlCost | undefined }
  | { kind: 'throttled'; retryAfterMs: number | undefined; cost: GraphqlCost | undefined };

const DEFAULT_COST = 10;
const KNOWN_COSTS_LIMIT = 200;

/** Reads `Retry-After` (seconds, possibly fractional, or an HTTP date) in milliseconds. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (raw === undefined || raw.trim() === '') return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(raw)) return Math.ceil(Number(raw) * 1000);
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function operationOf(query: string): string {
  const named = /\b(query|mutation)\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(query);
  if (named) return named[2]!;
  const root = /\{\s*([A-Za-z_][A-Za-z0-9_]*)/.exec(query);
  return root ? root[1]! : 'query';
}

function isThrottleStatus(value: unknown): value is ThrottleStatus {
  const v = value as Partial<ThrottleStatus> | null | undefined;
  return (
    !!v &&
    typeof v.maximumAvailable === 'number' &&
    typeof v.currentlyAvailable === 'number' &&
    typeof v.restoreRate === 'number' &&
    v.maximumAvailable > 0 &&
    v.restoreRate > 0
  );
}

function costOf(body: unknown): GraphqlCost | undefined {
  const cost = (body as { extensions?: { cost?: { requestedQueryCost?: unknown; throttleStatus?: unknown } } } | null)?.extensions?.cost;
  if (!cost) return undefined;
  return {
    ...(typeof cost.requestedQueryCost === 'number' ? { requestedQueryCost: cost.requestedQueryCost } : {}),
    ...(isThrottleStatus(cost.throttleStatus) ? { throttleStatus: cost.throttleStatus } : {}),
  };
}

class ResponseTooLargeError extends Error {}

/** Drops an answer's body. (undici's body emits an 'error' when destroyed unread: it is expected here.) */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

async function readBody(body: Dispatcher.ResponseData['body'], limit: number): Promise<string> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of body) {
    size += (part as Buffer).length;
    if (size > limit) {
      discard(body);
      throw new ResponseTooLargeError();
    }
    parts.push(part as Buffer);
  }
  return Buffer.concat(parts).toString('utf8');
}

function transportError(error: unknown, timedOut: boolean, what: string): ShopifyAdminError {
  const late =
    timedOut ||
    error instanceof undiciErrors.HeadersTimeoutError ||
    error instanceof undiciErrors.BodyTimeoutError ||
    error instanceof undiciErrors.ConnectTimeoutError ||
    (error instanceof Error && error.name === 'TimeoutError');
  return new ShopifyAdminError(late ? 'TIMEOUT' : 'NETWORK', late ? `${what} did not answer in time` : `${what} could not be reached`);
}

export function createShopifyAdmin(options: ShopifyAdminOptions): ShopifyAdmin {
  if (!/^(\d{4}-\d{2}|unstable)$/.test(options.apiVersion)) throw new TypeError('apiVersion must look like 2025-10');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const maxWaitMs = options.maxWaitMs ?? 60_000;
  const maxResponseBytes = options.maxResponseBytes ?? 4 * 1024 * 1024;
  const sleep = options.sleep ?? ((ms: number) => sleepFor(ms));
  const agent = new Agent({ connections: 16, connectTimeout: timeoutMs, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, keepAliveTimeout: 10_000 });
  const buckets = new Map<string, Bucket>();
  // What each query text cost the last time (per shop the cost is the same: it depends on the query).
  const knownCosts = new Map<string, number>();

  /** The bucket restored to `now`. */
  function current(shop: string, now: number): Bucket | undefined {
    const bucket = buckets.get(shop);
    if (!bucket) return undefined;
    const available = Math.min(bucket.maximumAvailable, bucket.currentlyAvailable + ((now - bucket.at) / 1000) * bucket.restoreRate);
    return { ...bucket, currentlyAvailable: available, at: now };
  }

  /** How long until the shop's bucket holds `cost`, by the client's estimate. */
  function waitNeeded(shop: string, cost: number): number {
    const bucket = current(shop, Date.now());
    if (!bucket) return 0;
    // A query dearer than the whole bucket is Shopify's to refuse (MAX_COST_EXCEEDED): no wait helps.
    const wanted = Math.min(cost, bucket.maximumAvailable);
    return wanted > bucket.currentlyAvailable ? Math.ceil(((wanted - bucket.currentlyAvailable) / bucket.restoreRate) * 1000) : 0;
  }

  /** Takes `cost` from the shop's bucket (below zero if need be: the caller waits waitNeeded first). */
  function reserve(shop: string, cost: number): void {
    const bucket = current(shop, Date.now());
    if (bucket) buckets.set(shop, { ...bucket, currentlyAvailable: bucket.currentlyAvailable - Math.min(cost, bucket.maximumAvailable) });
  }

  function learn(shop: string, query: string, cost: GraphqlCost | undefined): void {
    if (!cost) return;
    if (cost.throttleStatus) buckets.set(shop, { ...cost.throttleStatus, at: Date.now() });
    if (cost.requestedQueryCost !== undefined) {
      if (!knownCosts.has(query) && knownCosts.size >= KNOWN_COSTS_LIMIT) knownCosts.delete(knownCosts.keys().next().value!);
      knownCosts.set(query, cost.requestedQueryCost);
    }
  }

  /** One HTTP exchange. Throws for transport failures, statuses and malformed answers. */
  async function attempt(input: Attempt): Promise<AttemptResult> {
    const url = `${shopAdminUrl(options.adminUrlTemplate, input.shop)}/admin/api/${options.apiVersion}/graphql.json`;
    const abort = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.abort();
    }, timeoutMs);
    let status: number;
    let retryAfter: string | string[] | undefined;
    let text: string;
    try {
      const response = await undiciRequest(url, {
        dispatcher: agent,
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'x-shopify-access-token': input.accessToken },
        body: input.body,
        signal: abort.signal,
      });
      status = response.statusCode;
      retryAfter = response.headers['retry-after'];
      if (status !== 200) {
        discard(response.body);
        text = '';
      } else {
        text = await readBody(response.body, maxResponseBytes);
      }
    } catch (error) {
      if (error instanceof ResponseTooLargeError) {
        throw new ShopifyAdminError('BAD_RESPONSE', `Shopify answered ${input.operation} with more than ${maxResponseBytes} bytes`, { operation: input.operation });
      }
      const failure = transportError(error, timedOut, 'Shopify');
      throw new ShopifyAdminError(failure.code, `${failure.message} (${input.operation})`, { operation: input.operation });
    } finally {
      clearTimeout(timer);
    }
    if (status === 429) return { kind: 'throttled', retryAfterMs: retryAfterMs(retryAfter), cost: undefined };
    if (status !== 200) {
      throw new ShopifyAdminError('HTTP_STATUS', `Shopify answered ${status} to ${input.operation}`, { status, operation: input.operation });
    }
    let body: { data?: unknown; errors?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
      if (!body || typeof body !== 'object') throw new TypeError();
    } catch {
      throw new ShopifyAdminError('BAD_RESPONSE', `Shopify answered ${input.operation} with something other than a JSON object`, { operation: input.operation });
    }
    const cost = costOf(body);
    if (body.errors !== undefined) {
      const errors = Array.isArray(body.errors) ? body.errors : [body.errors];
      const codes = errors
        .map((e) => (e as { extensions?: { code?: unknown } } | null)?.extensions?.code)
        .filter((c): c is string => typeof c === 'string')
        .map((c) => c.slice(0, 64));
      if (codes.includes('THROTTLED')) return { kind: 'throttled', retryAfterMs: undefined, cost };
      // Returned, not thrown: the answer's cost still tells the bucket's state.
      const error = new ShopifyAdminError('GRAPHQL', `Shopify refused ${input.operation} (${codes.length ? codes.join(', ') : 'GraphQL errors'})`, { operation: input.operation, codes });
      return { kind: 'refused', error, cost };
    }
    if (!body.data || typeof body.data !== 'object') {
      throw new ShopifyAdminError('BAD_RESPONSE', `Shopify answered ${input.operation} without data`, { operation: input.operation });
    }
    return { kind: 'ok', data: body.data, cost };
  }

  const breakerOptions = options.breaker === undefined ? { errorThresholdPercentage: 50, resetTimeoutMs: 30_000, volumeThreshold: 10 } : options.breaker;
  const breaker = breakerOptions
    ? new CircuitBreaker(attempt, {
        timeout: false, // every request has its own timeout
        errorThresholdPercentage: breakerOptions.errorThresholdPercentage,
        resetTimeout: breakerOptions.resetTimeoutMs,
        volumeThreshold: breakerOptions.volumeThreshold,
        rollingCountTimeout: 10_000,
        // Only outages open the circuit: a 4xx is about this request or this shop.
        errorFilter: (error: unknown) => !(error instanceof ShopifyAdminError && error.retryable && error.code !== 'THROTTLED'),
      })
    : null;
  if (breaker) {
    breaker.on('open', () => options.onBreakerState?.('open'));
    breaker.on('halfOpen', () => options.onBreakerState?.('halfOpen'));
    breaker.on('close', () => options.onBreakerState?.('closed'));
  }

  async function fire(input: Attempt): Promise<AttemptResult> {
    if (!breaker) return attempt(input);
    try {
      return await breaker.fire(input);
    } catch (error) {
      if ((error as { code?: string }).code === 'EOPENBREAKER') {
        throw new ShopifyAdminError('CIRCUIT_OPEN', 'Shopify is failing: calls are paused until it recovers', { operation: input.operation });
      }
      throw error;
    }
  }

  function forShop(shop: string, accessToken: string): ShopifyGraphqlClient {
    shopAdminUrl(options.adminUrlTemplate, shop); // refuses anything but a myshopify domain, now rather than per call
    if (!accessToken) throw new TypeError('an access token is required');
    return {
      shop,
      sleep,
      throttleStatus() {
        const bucket = current(shop, Date.now());
        return bucket ? { maximumAvailable: bucket.maximumAvailable, currentlyAvailable: bucket.currentlyAvailable, restoreRate: bucket.restoreRate } : null;
      },
      async request<T>(query: string, variables: Record<string, unknown> = {}, requestOptions: RequestOptions = {}): Promise<T> {
        const operation = requestOptions.operation ?? operationOf(query);
        const body = JSON.stringify({ query, variables });
        for (let tries = 1; ; tries++) {
          const cost = knownCosts.get(query) ?? requestOptions.cost ?? DEFAULT_COST;
          const paceMs = waitNeeded(shop, cost);
          if (paceMs > maxWaitMs) {
            throw new ShopifyAdminError('THROTTLED', `Shopify's rate limit for this shop needs a longer wait than allowed (${operation})`, { operation, retryAfterMs: paceMs });
          }
          // Reserved before waiting, so that the shop's next call waits for this one's cost too.
          reserve(shop, cost);
          if (paceMs > 0) await sleep(paceMs);
          const result = await fire({ shop, accessToken, operation, body });
          learn(shop, query, result.cost);
          if (result.kind === 'ok') return result.data as T;
          if (result.kind === 'refused') throw result.error;
          // Throttled: Shopify did not run the request. A 429 says how long to wait; a
          // THROTTLED answer reports the bucket, which makes the next reserve() wait until
          // the cost is restored; with neither (or a bucket that looks sufficient, which
          // Shopify disagrees with), back off exponentially.
          const backoff = Math.min(maxWaitMs, 1000 * 2 ** (tries - 1));
          const refillMs = result.cost?.throttleStatus ? waitNeeded(shop, knownCosts.get(query) ?? cost) : 0;
          const waitMs = result.retryAfterMs ?? (refillMs > 0 ? 0 : backoff);
          if (tries >= maxAttempts) {
            throw new ShopifyAdminError('THROTTLED', `Shopify kept throttling ${operation} after ${tries} tries`, { operation, retryAfterMs: Math.max(waitMs, refillMs, 1) });
          }
          if (waitMs > maxWaitMs) {
            throw new ShopifyAdminError('THROTTLED', `Shopify asked to wait longer than allowed before ${operation}`, { operation, retryAfterMs: waitMs });
          }
          if (waitMs > 0) await sleep(waitMs);
        }
      },
    };
  }

  return {
    forShop,
    breakerState: () => (!breaker ? 'closed' : breaker.opened ? 'open' : breaker.halfOpen ? 'halfOpen' : 'closed'),
    async close() {
      breaker?.shutdown();
      await agent.close().catch(() => {});
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The operations Pigeon uses.

export type SmsMarketingState = 'SUBSCRIBED' | 'UNSUBSCRIBED' | 'NOT_SUBSCRIBED' | 'PENDING' | 'REDACTED' | 'INVALID';
export type MarketingOptInLevel = 'SINGLE_OPT_IN' | 'CONFIRMED_OPT_IN' | 'UNKNOWN';

export interface SmsMarketingConsent {
  marketingState: SmsMarketingState;
  marketingOptInLevel: MarketingOptInLevel | null;
  consentUpdatedAt: string | null;
  consentCollectedFrom: string | null;
}

export interface SmsMarketingConsentInput {
  marketingState: 'SUBSCRIBED' | 'UNSUBSCRIBED' | 'PENDING';
  marketingOptInLevel?: MarketingOptInLevel;
  /** ISO 8601; Shopify uses the time of the request when absent. */
  consentUpdatedAt?: string;
}

function checkUserErrors(operation: string, payload: { userErrors?: unknown } | null | undefined): void {
  const userErrors = Array.isArray(payload?.userErrors) ? (payload.userErrors as ShopifyUserError[]) : [];
  if (userErrors.length === 0) return;
  const codes = userErrors.map((e) => e?.code).filter((c): c is string => typeof c === 'string');
  throw new ShopifyAdminError('USER_ERRORS', `Shopify refused ${operation}: ${userErrors.length} user error(s)${codes.length ? ` (${codes.join(', ')})` : ''}`, {
    operation,
    codes,
    userErrors: userErrors.map((e) => ({ field: Array.isArray(e?.field) ? e.field.map(String) : null, message: String(e?.message ?? ''), code: typeof e?.code === 'string' ? e.code : null })),
  });
}

function payloadOf<T>(operation: string, data: Record<string, unknown>): T {
  const payload = data[operation];
  if (!payload || typeof payload !== 'object') throw new ShopifyAdminError('BAD_RESPONSE', `Shopify answered ${operation} without its payload`, { operation });
  checkUserErrors(operation, payload as { userErrors?: unknown });
  return payload as T;
}

const CONSENT_FIELDS = 'marketingState marketingOptInLevel consentUpdatedAt consentCollectedFrom';

/** Sets a customer's SMS marketing consent in Shopify (the customer must have a phone number). */
export async function customerSmsMarketingConsentUpdate(
  client: ShopifyGraphqlClient,
  input: { customerId: string; smsMarketingConsent: SmsMarketingConsentInput },
): Promise<{ id: string; smsMarketingConsent: SmsMarketingConsent | null }> {
  const operation = 'customerSmsMarketingConsentUpdate';
  const data = await client.request<Record<string, unknown>>(
    `mutation customerSmsMarketingConsentUpdate($input: CustomerSmsMarketingConsentUpdateInput!) {
  customerSmsMarketingConsentUpdate(input: $input) {
    customer { id smsMarketingConsent { ${CONSENT_FIELDS} } }
    userErrors { field message code }
  }
}`,
    { input },
    { operation },
  );
  const payload = payloadOf<{ customer?: { id: string; smsMarketingConsent: SmsMarketingConsent | null } | null }>(operation, data);
  if (!payload.customer || typeof payload.customer.id !== 'string') throw new ShopifyAdminError('BAD_RESPONSE', `Shopify answered ${operation} without the customer`, { operation });
  return { id: payload.customer.id, smsMarketingConsent: payload.customer.smsMarketingConsent ?? null };
}

export type BulkOperationStatus = 'CREATED' | 'RUNNING' | 'COMPLETED' | 'CANCELING' | 'CANCELED' | 'FAILED' | 'EXPIRED';

export interface BulkOperation {
  id: string;
  status: BulkOperationStatus;
  errorCode: string | null;
  /** Objects written so far (Shopify's UnsignedInt64, as a number). */
  objectCount: number;
  /** The JSONL result once COMPLETED (null when the result is empty). */
  url: string | null;
  partialDataUrl: string | null;
  createdAt: string | null;
  completedAt: string | null;
}

const BULK_FIELDS = 'id status errorCode objectCount url partialDataUrl createdAt completedAt';
const TERMINAL: ReadonlySet<BulkOperationStatus> = new Set(['COMPLETED', 'CANCELED', 'FAILED', 'EXPIRED']);

function toBulkOperation(value: unknown): BulkOperation | null {
  const v = value as Record<string, unknown> | null | undefined;
  if (!v || typeof v.id !== 'string' || typeof v.status !== 'string') return null;
  const str = (x: unknown) => (typeof x === 'string' ? x : null);
  const count = Number(v.objectCount ?? 0);
  return {
    id: v.id,
    status: v.status as BulkOperationStatus,
    errorCode: str(v.errorCode),
    objectCount: Number.isFinite(count) ? count : 0,
    url: str(v.url),
    partialDataUrl: str(v.partialDataUrl),
    createdAt: str(v.createdAt),
    completedAt: str(v.completedAt),
  };
}

/** The bulk query over the shop's customers with their SMS consent (one JSONL line per customer). */
export const CUSTOMERS_BULK_QUERY = `{
  customers {
    edges {
      node {
        id firstName lastName phone tags updatedAt
        smsMarketingConsent { ${CONSENT_FIELDS} }
      }
    }
  }
}`;

/** One line of the customers bulk result. */
export interface BulkCustomer {
  id: string;
  firstName: string | null;
  lastName: string | null;
  phone: string | null;
  tags: string[];
  updatedAt: string;
  smsMarketingConsent: SmsMarketingConsent | null;
}

/** Starts a bulk query (default: CUSTOMERS_BULK_QUERY). Shopify runs one per shop at a time: another running is a USER_ERRORS. */
export async function bulkOperationRunQuery(client: ShopifyGraphqlClient, query: string = CUSTOMERS_BULK_QUERY): Promise<BulkOperation> {
  const operation = 'bulkOperationRunQuery';
  const data = await client.request<Record<string, unknown>>(
    `mutation bulkOperationRunQuery($query: String!) {
  bulkOperationRunQuery(query: $query) {
    bulkOperation { ${BULK_FIELDS} }
    userErrors { field message code }
  }
}`,
    { query },
    { operation },
  );
  const bulk = toBulkOperation(payloadOf<{ bulkOperation?: unknown }>(operation, data).bulkOperation);
  if (!bulk) throw new ShopifyAdminError('BAD_RESPONSE', `Shopify answered ${operation} without the operation`, { operation });
  return bulk;
}

/** The app's most recent bulk operation of this type on the shop, or null. */
export async function currentBulkOperation(client: ShopifyGraphqlClient, type: 'QUERY' | 'MUTATION' = 'QUERY'): Promise<BulkOperation | null> {
  const data = await client.request<{ currentBulkOperation?: unknown }>(
    `query currentBulkOperation($type: BulkOperationType!) { currentBulkOperation(type: $type) { ${BULK_FIELDS} } }`,
    { type },
    { operation: 'currentBulkOperation', cost: 1 },
  );
  return toBulkOperation(data.currentBulkOperation);
}

/** A bulk operation by id, or null (unknown, or another app's or shop's). */
export async function bulkOperation(client: ShopifyGraphqlClient, id: string): Promise<BulkOperation | null> {
  const data = await client.request<{ node?: unknown }>(
    `query bulkOperation($id: ID!) { node(id: $id) { ... on BulkOperation { ${BULK_FIELDS} } } }`,
    { id },
    { operation: 'bulkOperation', cost: 1 },
  );
  return toBulkOperation(data.node);
}

/**
 * Polls a bulk operation until it is finished (COMPLETED, FAILED, CANCELED, EXPIRED) and
 * returns it; `onProgress` sees each poll. Gives up with a TIMEOUT after `timeoutMs`.
 */
export async function waitForBulkOperation(
  client: ShopifyGraphqlClient,
  id: string,
  options: { intervalMs?: number; timeoutMs?: number; onProgress?: (operation: BulkOperation) => void | Promise<void> } = {},
): Promise<BulkOperation> {
  const intervalMs = options.intervalMs ?? 2_000;
  const deadline = Date.now() + (options.timeoutMs ?? 6 * 3600_000);
  for (;;) {
    const bulk = await bulkOperation(client, id);
    if (!bulk) throw new ShopifyAdminError('BAD_RESPONSE', 'Shopify does not know the bulk operation', { operation: 'bulkOperation' });
    await options.onProgress?.(bulk);
    if (TERMINAL.has(bulk.status)) return bulk;
    if (Date.now() + intervalMs > deadline) throw new ShopifyAdminError('TIMEOUT', 'the bulk operation did not finish in time', { operation: 'bulkOperation' });
    await client.sleep(intervalMs);
  }
}

export interface WebhookSubscription {
  id: string;
  topic: string;
  uri: string;
  format: string | null;
}

const WEBHOOK_FIELDS = 'id topic uri format';

function toWebhook(value: unknown): WebhookSubscription | null {
  const v = value as Record<string, unknown> | null | undefined;
  if (!v || typeof v.id !== 'string' || typeof v.topic !== 'string' || typeof v.uri !== 'string') return null;
  return { id: v.id, topic: v.topic, uri: v.uri, format: typeof v.format === 'string' ? v.format : null };
}

/** Subscribes the app to a topic (e.g. CUSTOMERS_UPDATE) on this shop, delivered to `uri`. */
export async function webhookSubscriptionCreate(
  client: ShopifyGraphqlClient,
  input: { topic: string; uri: string; format?: 'JSON' | 'XML' },
): Promise<WebhookSubscription> {
  const operation = 'webhookSubscriptionCreate';
  const data = await client.request<Record<string, unknown>>(
    `mutation webhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { ${WEBHOOK_FIELDS} }
    userErrors { field message }
  }
}`,
    { topic: input.topic, webhookSubscription: { uri: input.uri, format: input.format ?? 'JSON' } },
    { operation },
  );
  const subscription = toWebhook(payloadOf<{ webhookSubscription?: unknown }>(operation, data).webhookSubscription);
  if (!subscription) throw new ShopifyAdminError('BAD_RESPONSE', `Shopify answered ${operation} without the subscription`, { operation });
  return subscription;
}

/** Every webhook subscription the app has on this shop (all pages). */
export async function listWebhookSubscriptions(client: ShopifyGraphqlClient, options: { pageSize?: number; maxPages?: number } = {}): Promise<WebhookSubscription[]> {
  const pageSize = Math.min(250, Math.max(1, options.pageSize ?? 100));
  const all: WebhookSubscription[] = [];
  let after: string | null = null;
  for (let page = 0; page < (options.maxPages ?? 20); page++) {
    const data: { webhookSubscriptions?: { edges?: Array<{ node?: unknown }>; pageInfo?: { hasNextPage?: boolean; endCursor?: string | null } } } = await client.request(
      `query webhookSubscriptions($first: Int!, $after: String) {
  webhookSubscriptions(first: $first, after: $after) {
    edges { node { ${WEBHOOK_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`,
      { first: pageSize, after },
      { operation: 'webhookSubscriptions', cost: 2 + pageSize },
    );
    const connection = data.webhookSubscriptions;
    if (!connection || !Array.isArray(connection.edges)) throw new ShopifyAdminError('BAD_RESPONSE', 'Shopify answered webhookSubscriptions without a list', { operation: 'webhookSubscriptions' });
    for (const edge of connection.edges) {
      const subscription = toWebhook(edge?.node);
      if (subscription) all.push(subscription);
    }
    if (!connection.pageInfo?.hasNextPage || !connection.pageInfo.endCursor) return all;
    after = connection.pageInfo.endCursor;
  }
  throw new ShopifyAdminError('BAD_RESPONSE', 'Shopify listed more webhook subscriptions than expected', { operation: 'webhookSubscriptions' });
}

export type AppPurchaseStatus = 'PENDING' | 'ACTIVE' | 'DECLINED' | 'EXPIRED' | 'ACCEPTED';

export interface Money {
  /** A decimal string, as Shopify's Decimal scalar: '10.00'. */
  amount: string;
  currencyCode: string;
}

export interface AppPurchaseOneTime {
  id: string;
  name: string | null;
  status: AppPurchaseStatus;
  test: boolean;
  price: Money | null;
  createdAt: string | null;
}

const PURCHASE_FIELDS = 'id name status test createdAt price { amount currencyCode }';

function toPurchase(value: unknown): AppPurchaseOneTime | null {
  const v = value as Record<string, unknown> | null | undefined;
  if (!v || typeof v.id !== 'string' || typeof v.status !== 'string') return null;
  const price = v.price as { amount?: unknown; currencyCode?: unknown } | null | undefined;
  return {
    id: v.id,
    name: typeof v.name === 'string' ? v.name : null,
    status: v.status as AppPurchaseStatus,
    test: v.test === true,
    price: price && (typeof price.amount === 'string' || typeof price.amount === 'number') && typeof price.currencyCode === 'string' ? { amount: String(price.amount), currencyCode: price.currencyCode } : null,
    createdAt: typeof v.createdAt === 'string' ? v.createdAt : null,
  };
}

/** A one-time charge the merchant must approve at `confirmationUrl`; it is PENDING until then. */
export async function appPurchaseOneTimeCreate(
  client: ShopifyGraphqlClient,
  input: { name: string; price: Money; returnUrl: string; test?: boolean },
): Promise<{ confirmationUrl: string; purchase: AppPurchaseOneTime }> {
  const operation = 'appPurchaseOneTimeCreate';
  const data = await client.request<Record<string, unknown>>(
    `mutation appPurchaseOneTimeCreate($name: String!, $price: MoneyInput!, $returnUrl: URL!, $test: Boolean) {
  appPurchaseOneTimeCreate(name: $name, price: $price, returnUrl: $returnUrl, test: $test) {
    appPurchaseOneTime { ${PURCHASE_FIELDS} }
    confirmationUrl
    userErrors { field message }
  }
}`,
    { name: input.name, price: input.price, returnUrl: input.returnUrl, test: input.test ?? false },
    { operation },
  );
  const payload = payloadOf<{ appPurchaseOneTime?: unknown; confirmationUrl?: unknown }>(operation, data);
  const purchase = toPurchase(payload.appPurchaseOneTime);
  if (!purchase || typeof payload.confirmationUrl !== 'string' || !/^https?:\/\//.test(payload.confirmationUrl)) {
    throw new ShopifyAdminError('BAD_RESPONSE', `Shopify answered ${operation} without the purchase or its confirmation URL`, { operation });
  }
  return { confirmationUrl: payload.confirmationUrl, purchase };
}

/** A one-time purchase read back from Shopify (the truth about its status), or null if this shop has none by that id. */
export async function appPurchaseOneTime(client: ShopifyGraphqlClient, id: string): Promise<AppPurchaseOneTime | null> {
  const data = await client.request<{ node?: unknown }>(
    `query appPurchaseOneTime($id: ID!) { node(id: $id) { ... on AppPurchaseOneTime { ${PURCHASE_FIELDS} } } }`,
    { id },
    { operation: 'appPurchaseOneTime', cost: 1 },
  );
  return toPurchase(data.node);
}

// ---------------------------------------------------------------------------------------------
// Bulk results.

export interface JsonlOptions {
  /** Until the answer starts, and between two parts of it. Default 10 s. */
  timeoutMs?: number;
  /** A longer line fails the read (BAD_RESPONSE). Default 1 MiB. */
  maxLineBytes?: number;
  signal?: AbortSignal;
  dispatcher?: Dispatcher;
}

/**
 * The parsed lines of a JSONL file at `url` (a bulk operation's signed result URL), one at a
 * time: the file is read as it is consumed and never held whole. Stopping early (break)
 * closes the download.
 */
export async function* streamJsonl<T = unknown>(url: string, options: JsonlOptions = {}): AsyncGenerator<T, void, undefined> {
  const parsed = new URL(url);
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new TypeError('a bulk result URL must be http(s)');
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxLineBytes = options.maxLineBytes ?? 1024 * 1024;
  let response: Dispatcher.ResponseData;
  try {
    response = await undiciRequest(parsed, {
      method: 'GET',
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
    });
  } catch (error) {
    throw transportError(error, false, 'the bulk result');
  }
  if (response.statusCode !== 200) {
    discard(response.body);
    throw new ShopifyAdminError('HTTP_STATUS', `the bulk result answered ${response.statusCode}`, { status: response.statusCode });
  }
  let carry: Buffer[] = [];
  let carried = 0;
  let lineNumber = 0;
  const parse = (line: Buffer): T | undefined => {
    lineNumber++;
    let end = line.length;
    if (end > 0 && line[end - 1] === 0x0d) end--;
    if (end === 0) return undefined;
    try {
      return JSON.parse(line.toString('utf8', 0, end)) as T;
    } catch {
      throw new ShopifyAdminError('BAD_RESPONSE', `the bulk result's line ${lineNumber} is not JSON`);
    }
  };
  try {
    try {
      for await (const part of response.body) {
        const chunk = part as Buffer;
        let start = 0;
        for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
          let line = chunk.subarray(start, newline);
          if (carried > 0) {
            carry.push(line);
            line = Buffer.concat(carry, carried + line.length);
            carry = [];
            carried = 0;
          }
          if (line.length > maxLineBytes) throw new ShopifyAdminError('BAD_RESPONSE', `the bulk result's line ${lineNumber + 1} is longer than ${maxLineBytes} bytes`);
          start = newline + 1;
          const value = parse(line);
          if (value !== undefined) yield value;
        }
        if (start < chunk.length) {
          // Copied: the chunk's memory is not kept alive for a partial line.
          carry.push(Buffer.from(chunk.subarray(start)));
          carried += chunk.length - start;
          if (carried > maxLineBytes) throw new ShopifyAdminError('BAD_RESPONSE', `the bulk result's line ${lineNumber + 1} is longer than ${maxLineBytes} bytes`);
        }
      }
    } catch (error) {
      if (error instanceof ShopifyAdminError) throw error;
      throw transportError(error, false, 'the bulk result');
    }
    if (carried > 0) {
      const value = parse(Buffer.concat(carry, carried));
      if (value !== undefined) yield value;
    }
  } finally {
    if (!response.body.destroyed) discard(response.body);
  }
}

/** A customers bulk-result line as a BulkCustomer, or null for a line of another shape (e.g. a nested child). */
export function toBulkCustomer(line: unknown): BulkCustomer | null {
  const v = line as Record<string, unknown> | null | undefined;
  if (!v || typeof v.id !== 'string' || !v.id.startsWith('gid://shopify/Customer/') || '__parentId' in v) return null;
  const str = (x: unknown) => (typeof x === 'string' ? x : null);
  const consent = v.smsMarketingConsent as Record<string, unknown> | null | undefined;
  return {
    id: v.id,
    firstName: str(v.firstName),
    lastName: str(v.lastName),
    phone: str(v.phone),
    tags: Array.isArray(v.tags) ? v.tags.filter((t): t is string => typeof t === 'string') : [],
    updatedAt: str(v.updatedAt) ?? '',
    smsMarketingConsent:
      consent && typeof consent.marketingState === 'string'
        ? {
            marketingState: consent.marketingState as SmsMarketingState,
            marketingOptInLevel: str(consent.marketingOptInLevel) as MarketingOptInLevel | null,
            consentUpdatedAt: str(consent.consentUpdatedAt),
            consentCollectedFrom: str(consent.consentCollectedFrom),
          }
        : null,
  };
}

/** The Admin API client the configuration describes (SHOPIFY_ADMIN_URL, SHOPIFY_API_VERSION, SHOPIFY_API_TIMEOUT_MS). */
export function shopifyAdminFromConfig(config: { shopifyAdminUrl: string; shopifyApiVersion: string; shopifyApiTimeoutMs: number }, extra: Partial<ShopifyAdminOptions> = {}): ShopifyAdmin {
  return createShopifyAdmin({ adminUrlTemplate: config.shopifyAdminUrl, apiVersion: config.shopifyApiVersion, timeoutMs: config.shopifyApiTimeoutMs, ...extra });
}
