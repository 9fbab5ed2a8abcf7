// Rate limits. A cheap in-memory fixed window per IP answers a flood before anything else
// runs; behind it, @fastify/rate-limit counts every request in Postgres (one statement per
// hit, shared by every instance), keyed by shop once a request is authenticated and by IP
// before that. Routes may set their own limit (config.rateLimit) with its own counters.
//
// Authentication sets request.rateLimitShopId. The limit runs in the onRequest phase (after
// app-level onRequest hooks and the route's own onRequest hooks), so an authentication hook
// must also run in onRequest for its shop to be the key.
import { createHash } from 'node:crypto';
import fp from 'fastify-plugin';
import type { FastifyRequest, RouteOptions } from 'fastify';
import rateLimit, { normalizeIP, type FastifyRateLimitStore } from '@fastify/rate-limit';
import { sql } from 'kysely';
import type { Db } from '../db/kysely.js';
import { AppError } from '../lib/app-error.js';
import type { Metrics } from '../metrics.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by authentication: the shop whose budget this request spends. */
    rateLimitShopId?: string;
  }
  interface FastifyInstance {
    /**
     * Counts a webhook request that failed its signature check against its source address;
     * returns Retry-After seconds once the address is over its budget, else null.
     */
    webhookSignatureFailure(request: FastifyRequest): Promise<number | null>;
  }
}

declare module '@fastify/rate-limit' {
  interface RateLimitOptions {
    /**
     * When the shared store is unreachable, refuse (503) instead of letting requests
     * through. For limits that protect credentials (login, signup); default false.
     */
    failClosed?: boolean;
  }
}

export interface RateLimitPluginOptions {
  db: Db;
  /** Requests per window for each key (shop or IP), across all instances. */
  max: number;
  windowMs: number;
  /** Requests per window per IP on this instance before the database is even asked. */
  prefilterMax: number;
  /** Webhook signature failures per address and window before 429. */
  webhookFailureMax: number;
  webhookFailureWindowMs: number;
  metrics: Metrics;
}

/** Never limited: probes and scrapes must keep answering during a flood. */
const EXEMPT_ROUTES = new Set(['/health/live', '/health/ready', '/metrics']);
/** The prefilter forgets everything past this many addresses rather than grow without bound. */
const PREFILTER_MAX_TRACKED = 100_000;
/** app.rate_limit_hits.key has a check of length(key) <= 200. */
const MAX_KEY_LENGTH = 200;
/** Window lengths travel as a Postgres integer of milliseconds. */
const MAX_WINDOW_MS = 2_147_483_647;
const STORE_WARNING_INTERVAL_MS = 10_000;

function isExempt(request: FastifyRequest): boolean {
  const url = request.routeOptions.url;
  return url !== undefined && EXEMPT_ROUTES.has(url);
}

/**
 * Routes that opt out of rate limiting (config.rateLimit: false: the signed webhooks) skip
 * the prefilter too: a valid signed request is never limited, whatever else the address
 * sends. Their failures are limited instead (webhookSignatureFailure), with a prefilter of
 * their own in front of the database.
 */
function optsOut(request: FastifyRequest): boolean {
  return request.routeOptions.config?.rateLimit === false;
}

/** The client address, IPv6 grouped by /64 (one subscriber usually holds a whole /64). */
function clientAddress(request: FastifyRequest): string {
  return normalizeIP(request.ip);
}

/**
 * keyGenerator for a route's own per-address limit (login, signup, the Shopify install).
 * The raw request.ip would give an IPv6 client 2^64 fresh budgets, one per address it can
 * pick within its /64; this groups them like every other per-IP count.
 */
export function byClientAddress(request: FastifyRequest): string {
  return `ip:${clientAddress(request)}`;
}

/** The default key: the authenticated shop, else the client address. */
export function rateLimitKey(request: FastifyRequest): string {
  return request.rateLimitShopId ? `shop:${request.rateLimitShopId}` : byClientAddress(request);
}

/** The stored key: namespaced per limiter, hashed when it would not fit the column. */
export function storageKey(namespace: string, key: string): string {
  const full = namespace ? `${namespace}|${key}` : key;
  if (full.length <= MAX_KEY_LENGTH) return full;
  const digest = createHash('sha256').update(full).digest('base64url');
  return `${namespace.slice(0, 100)}|sha256:${digest}`;
}

interface StoreContext {
  db: Db;
  /** Throttled: a database outage must not turn into a log line per request. */
  warn(error: unknown, namespace: string, failClosed: boolean): void;
}

interface HitRow {
  hits: number;
  ttl_ms: number;
}

/** What @fastify/rate-limit passes to child(): the merged route params, not RouteOptions. */
interface ChildParams {
  routeInfo?: { method?: string | string[]; url?: string };
  groupId?: string;
  failClosed?: unknown;
}

/** The limiter a route's own counters are kept under (HEAD shares GET's budget). */
function routeNamespace(params: ChildParams): string {
  if (params.groupId) return `group:${params.groupId}`;
  const info = params.routeInfo;
  if (!info?.url) return 'custom';
  const methods = (Array.isArray(info.method) ? info.method : [info.method ?? '*']).map((m) =>
    m.toUpperCase() === 'HEAD' ? 'GET' : m.toUpperCase(),
  );
  return `route:${[...new Set(methods)].sort().join(',')} ${info.url}`;
}

/** One hit on a shared fixed-window counter: the count so far and the milliseconds left. */
async function countHit(db: Db, key: string, windowMs: number): Promise<{ current: number; ttl: number }> {
  // The time left is computed by the database, whose clock set expires_at.
  const { rows } = await sql<HitRow>`
    select r.hits, greatest(0, ceil(extract(epoch from r.expires_at - now()) * 1000))::integer as ttl_ms
    from app_private.rate_limit_hit(${key}::text, ${windowMs}::integer) r
  `.execute(db);
  const row = rows[0];
  if (!row) throw new Error('app_private.rate_limit_hit returned no row');
  return { current: row.hits, ttl: row.ttl_ms };
}

/**
 * @fastify/rate-limit store on app_private.rate_limit_hit: a fixed window per key, one
 * statement per hit, no transaction and no tenant context (the keys are not tenant data).
 */
export class PostgresRateLimitStore implements FastifyRateLimitStore {
  constructor(
    private readonly context: StoreContext,
    private readonly namespace: string,
    private readonly failClosed: boolean,
  ) {}

  incr(
    key: string,
    callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
    timeWindow: number,
    _max: number,
  ): void {
    const windowMs = Math.min(Math.max(Math.trunc(timeWindow), 1), MAX_WINDOW_MS);
    this.hit(String(key), windowMs).then(
      (result) => callback(null, result),
      (error: unknown) => {
        this.context.warn(error, this.namespace, this.failClosed);
        if (this.failClosed) {
          callback(
            new AppError(503, 'SERVICE_UNAVAILABLE', 'The service is temporarily unavailable', undefined, {
              'Retry-After': '5',
            }),
          );
        } else {
          // Fail open: an outage of the limiter must not become an outage of the API. The
          // per-instance prefilter still stands between a flood and the handlers.
          callback(null, { current: 0, ttl: windowMs });
        }
      },
    );
  }

  private hit(key: string, windowMs: number): Promise<{ current: number; ttl: number }> {
    return countHit(this.context.db, storageKey(this.namespace, key), windowMs);
  }

  child(routeOptions: RouteOptions & { path: string; prefix: string }): FastifyRateLimitStore {
    const params = routeOptions as unknown as ChildParams;
    return new PostgresRateLimitStore(this.context, routeNamespace(params), params.failClosed === true);
  }
}

/** A fixed window per address, in this process only; cleared when the window turns. */
export function createPrefilter(max: number, windowMs: number, maxTracked = PREFILTER_MAX_TRACKED) {
  const counts = new Map<string, number>();
  let windowStart = Date.now();
  /** Seconds until the window turns when the address is over its budget, else null. */
  return (address: string, now = Date.now()): number | null => {
    if (now - windowStart >= windowMs) {
      counts.clear();
      windowStart = now;
    } else if (counts.size >= maxTracked && !counts.has(address)) {
      // Bounded memory beats accuracy: forget everyone rather than grow without limit.
      counts.clear();
    }
    const count = (counts.get(address) ?? 0) + 1;
    counts.set(address, count);
    if (count <= max) return null;
    return Math.max(1, Math.ceil((windowStart + windowMs - now) / 1000));
  };
}

function tooManyRequests(retryAfterSeconds: number, message = 'Too many requests'): AppError {
  return new AppError(429, 'RATE_LIMITED', message, undefined, { 'Retry-After': String(retryAfterSeconds) });
}

export default fp<RateLimitPluginOptions>(
  async (app, opts) => {
    const { metrics } = opts;
    app.decorateRequest('rateLimitShopId', undefined);

    // Registered before @fastify/rate-limit, and app-level: runs before its route hooks.
    const overPrefilter = createPrefilter(opts.prefilterMax, opts.windowMs);
    app.addHook('onRequest', async (request) => {
      if (isExempt(request) || optsOut(request)) return;
      const retryAfter = overPrefilter(clientAddress(request));
      if (retryAfter === null) return;
      metrics.rateLimitRefusals.inc({ scope: 'prefilter' });
      throw tooManyRequests(retryAfter);
    });

    // Signature failures: counted per address in memory first (a flood of bad signatures
    // costs no database statement past the budget), then in the shared store, so the
    // budget holds across instances. A store outage fails open: the request is still a 401.
    const overLocalFailureBudget = createPrefilter(opts.webhookFailureMax, opts.webhookFailureWindowMs);
    app.decorate('webhookSignatureFailure', async (request: FastifyRequest): Promise<number | null> => {
      const address = byClientAddress(request);
      const local = overLocalFailureBudget(address);
      if (local !== null) {
        metrics.rateLimitRefusals.inc({ scope: 'webhook-signature' });
        return local;
      }
      try {
        const { current, ttl } = await countHit(opts.db, storageKey('webhook-signature-failures', address), opts.webhookFailureWindowMs);
        if (current <= opts.webhookFailureMax) return null;
        metrics.rateLimitRefusals.inc({ scope: 'webhook-signature' });
        return Math.max(1, Math.ceil(ttl / 1000));
      } catch (error) {
        context.warn(error, 'webhook-signature-failures', false);
        return null;
      }
    });

    let lastWarning = 0;
    const context: StoreContext = {
      db: opts.db,
      warn(error, namespace, failClosed) {
        const now = Date.now();
        if (now - lastWarning < STORE_WARNING_INTERVAL_MS) return;
        lastWarning = now;
        app.log.warn(
          { err: error, limiter: namespace || 'global', failClosed },
          failClosed ? 'rate limit store unavailable: refusing requests' : 'rate limit store unavailable: allowing requests',
        );
      },
    };
    class GlobalStore extends PostgresRateLimitStore {
      constructor() {
        super(context, '', false);
      }
    }

    await app.register(rateLimit, {
      global: true,
      max: opts.max,
      timeWindow: opts.windowMs,
      store: GlobalStore,
      keyGenerator: rateLimitKey,
      allowList: (request) => isExempt(request),
      errorResponseBuilder: (request, context) => {
        // Every refusal passes here, the route's limits included (they inherit this builder).
        const routeLimit = request.routeOptions.config.rateLimit;
        const scope =
          typeof routeLimit === 'object' ? (routeLimit.groupId ?? request.routeOptions.url ?? 'route') : 'global';
        metrics.rateLimitRefusals.inc({ scope });
        // @fastify/rate-limit has already set the X-RateLimit-* and Retry-After headers.
        const retryAfter = Math.max(1, Math.ceil(context.ttl / 1000));
        if (context.ban) {
          return new AppError(403, 'FORBIDDEN', 'Too many requests; access is suspended', undefined, {
            'Retry-After': String(retryAfter),
          });
        }
        return tooManyRequests(retryAfter, `Too many requests; retry in ${context.after}`);
      },
    });
  },
  { name: 'rate-limit', dependencies: ['errors'] },
);
