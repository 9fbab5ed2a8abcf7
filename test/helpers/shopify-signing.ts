// Signing as Shopify signs, for tests that play Shopify: session tokens (HS256 JWS with the
// app's client secret), OAuth redirect queries (hex HMAC of the escaped, sorted parameters)
// and webhooks (base64 HMAC of the raw body). Written independently of src/lib so that a
// mistake in the verifiers is not mirrored here; the known-answer test in
// test/shopify-verification.test.ts pins this file to the example in Shopify's docs.
import { createHmac, randomUUID } from 'node:crypto';

export type SessionTokenClaims = Record<string, unknown>;
export type SessionTokenHeader = Record<string, unknown>;

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');

/**
 * A compact JWS over `claims`. The default header is Shopify's `{"alg":"HS256","typ":"JWT"}`.
 * With another header the signature follows its `alg` where that is an HMAC (HS384/HS512),
 * is empty for `none` (an unsigned token), and is HS256 otherwise (e.g. an `RS256` label on
 * an HMAC-signed token, the algorithm-confusion attack).
 */
export function signSessionToken(
  claims: SessionTokenClaims,
  apiSecret: string,
  header: SessionTokenHeader = { alg: 'HS256', typ: 'JWT' },
): string {
  const signingInput = `${b64url(header)}.${b64url(claims)}`;
  const alg = header.alg;
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') return `${signingInput}.`;
  const hash = alg === 'HS384' ? 'sha384' : alg === 'HS512' ? 'sha512' : 'sha256';
  return `${signingInput}.${createHmac(hash, apiSecret).update(signingInput).digest('base64url')}`;
}

/** The claims App Bridge puts in a session token for `shop`, valid for one minute from `nowMs`. */
export function shopifySessionClaims(opts: {
  shop: string;
  apiKey: string;
  userId?: string;
  sessionId?: string;
  nowMs?: number;
}): SessionTokenClaims {
  const now = Math.floor((opts.nowMs ?? Date.now()) / 1000);
  return {
    iss: `https://${opts.shop}/admin`,
    dest: `https://${opts.shop}`,
    aud: opts.apiKey,
    sub: opts.userId ?? '42',
    exp: now + 60,
    nbf: now,
    iat: now,
    jti: randomUUID(),
    sid: opts.sessionId ?? randomUUID().replace(/-/g, ''),
  };
}

/**
 * `params` plus the `hmac` Shopify would add. Array values under a `key[]` name are signed
 * as Shopify does for bulk-action links, `key=["1", "2"]`.
 */
export function signOAuthQuery(
  params: Record<string, string | string[]>,
  apiSecret: string,
): Record<string, string | string[]> & { hmac: string } {
  const message = Object.entries(params)
    .filter(([key]) => key !== 'hmac' && key !== 'signature')
    .map(([key, value]) => {
      const isArray = key.endsWith('[]');
      const k = isArray ? key.slice(0, -2) : key;
      const v = isArray ? `[${[value].flat().map((item) => JSON.stringify(item)).join(', ')}]` : String(value);
      const ek = k.split('%').join('%25').split('&').join('%26').split('=').join('%3D');
      const ev = v.split('%').join('%25').split('&').join('%26');
      return `${ek}=${ev}`;
    })
    .sort()
    .join('&');
  return { ...params, hmac: createHmac('sha256', apiSecret).update(message).digest('hex') };
}

/** The query string for a signed redirect, as it would appear on the callback URL. */
export function oauthQueryString(params: Record<string, string | string[]>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) for (const item of [value].flat()) search.append(key, item);
  return search.toString();
}

/** The `X-Shopify-Hmac-Sha256` header value for a webhook with this raw body. */
export function signWebhook(rawBody: Buffer | string, apiSecret: string): string {
  return createHmac('sha256', apiSecret).update(rawBody).digest('base64');
}

export interface ShopifyWebhookOptions {
  /** `customers/update`, `app/uninstalled`, … as Shopify writes it in X-Shopify-Topic. */
  topic: string;
  shop: string;
  apiSecret: string;
  /** X-Shopify-Webhook-Id: one per delivery attempt chain; Shopify's retries keep it. Default: a fresh UUID. */
  webhookId?: string;
  /** X-Shopify-Event-Id: the event (several subscriptions to one event share it). Default: a fresh UUID. */
  eventId?: string;
  /** X-Shopify-Triggered-At: when the event happened (retries keep it). Default: now. */
  triggeredAt?: Date;
  apiVersion?: string;
}

/**
 * Shopify's `X-Shopify-Triggered-At` format: UTC with nanoseconds, e.g.
 * `2023-03-29T18:00:27.877041743Z` (a Date has milliseconds: the rest is zeros).
 */
export function shopifyTimestamp(at: Date): string {
  return at.toISOString().replace(/Z$/, '000000Z');
}

/** The headers Shopify sends with a webhook whose raw body is `rawBody`. */
export function shopifyWebhookHeaders(rawBody: Buffer | string, opts: ShopifyWebhookOptions): Record<string, string> {
  return {
    'Content-Type': 'application/json',
    'X-Shopify-Topic': opts.topic,
    'X-Shopify-Hmac-Sha256': signWebhook(rawBody, opts.apiSecret),
    'X-Shopify-Shop-Domain': opts.shop,
    'X-Shopify-API-Version': opts.apiVersion ?? '2025-10',
    'X-Shopify-Webhook-Id': opts.webhookId ?? randomUUID(),
    'X-Shopify-Event-Id': opts.eventId ?? randomUUID(),
    'X-Shopify-Triggered-At': shopifyTimestamp(opts.triggeredAt ?? new Date()),
  };
}

/** A webhook as Shopify delivers it: the JSON body (exact bytes that were signed) and its headers. */
export function shopifyWebhook(payload: unknown, opts: ShopifyWebhookOptions): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify(payload);
  return { body, headers: shopifyWebhookHeaders(body, opts) };
}
