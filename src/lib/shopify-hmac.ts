// The two HMACs Shopify signs with the app's client secret.
//
// OAuth redirects (install and callback): the `hmac` query parameter is the lowercase hex
// HMAC-SHA256 of the other parameters, rebuilt the way Shopify's own Ruby code does it
// (`ShopifyAPI::Session.validate_signature`, omniauth-shopify-oauth2):
//   params.except(hmac, signature)
//         .map { |k, v| "#{URI.escape(k, '&=%')}=#{URI.escape(v.to_s, '&%')}" }
//         .sort.join('&')
// over the *decoded* parameter values. So: drop `hmac` and the legacy `signature`; in keys
// replace `%` → `%25`, `&` → `%26`, `=` → `%3D`; in values `%` → `%25`, `&` → `%26`; join
// each as `key=value`; sort those strings bytewise; join with `&`. The escaping is what stops
// `a=1&b=2` and `a=1%26b%3D2` from producing the same message. Array parameters
// (`ids[]=1&ids[]=2` from admin bulk-action links) are signed as Rack parses them, a Ruby
// array under the bare key, stringified: `ids=["1", "2"]` (also for a single `ids[]`).
//
// Webhooks: `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of the raw body bytes.
import { createHmac, timingSafeEqual } from 'node:crypto';

export type QueryParams = Record<string, string | string[]>;

// Shopify sends the hex digest in lowercase (OpenSSL's hexdigest) and its own libraries
// compare it as a string. We accept exactly that form: an uppercase or mixed-case variant is
// refused, so a signed URL has one spelling only.
const HEX_SHA256 = /^[0-9a-f]{64}$/;
const BASE64_SHA256 = /^[A-Za-z0-9+/]{43}=$/;
// Characters that survive Ruby's String#inspect unchanged inside an array element. Anything
// else (quotes, backslashes, `#`, control or non-ASCII characters) Ruby escapes in ways we do
// not reproduce, so such an array parameter fails closed rather than being guessed at.
const RUBY_INSPECT_SAFE = /^[\x20-\x21\x24-\x5b\x5d-\x7e]*$/;

function assertSecret(apiSecret: string): void {
  // A configuration error, not a bad request: an empty key would make signatures forgeable.
  if (typeof apiSecret !== 'string' || apiSecret.length === 0) throw new TypeError('apiSecret must be a non-empty string');
}

function escapeKey(key: string): string {
  return key.replace(/[%&=]/g, (c) => (c === '%' ? '%25' : c === '&' ? '%26' : '%3D'));
}

function escapeValue(value: string): string {
  return value.replace(/[%&]/g, (c) => (c === '%' ? '%25' : '%26'));
}

/**
 * The message Shopify signs for an OAuth redirect's query, or null when the query cannot
 * have been signed by Shopify (a repeated plain key, `ids` and `ids[]` together, an array
 * element Ruby would escape, a non-string value).
 */
function oauthHmacMessage(query: QueryParams): string | null {
  const seen = new Set<string>();
  const pairs: Buffer[] = [];
  for (const rawKey of Object.keys(query)) {
    if (rawKey === 'hmac' || rawKey === 'signature') continue;
    const raw: unknown = query[rawKey];
    let key: string;
    let value: string;
    if (rawKey.endsWith('[]')) {
      const items: unknown[] = Array.isArray(raw) ? raw : [raw];
      if (!items.every((item): item is string => typeof item === 'string' && RUBY_INSPECT_SAFE.test(item))) return null;
      key = rawKey.slice(0, -2);
      value = `[${(items as string[]).map((item) => `"${item}"`).join(', ')}]`;
    } else {
      // A repeated plain key (`shop=a&shop=b`) is never produced by Shopify, and which of the
      // two values a route would use is ambiguous: refuse rather than pick one.
      if (typeof raw !== 'string') return null;
      key = rawKey;
      value = raw;
    }
    if (seen.has(key)) return null;
    seen.add(key);
    pairs.push(Buffer.from(`${escapeKey(key)}=${escapeValue(value)}`, 'utf8'));
  }
  // Ruby's String#<=> compares bytes; Buffer.compare does the same on the UTF-8 encoding.
  pairs.sort(Buffer.compare);
  return Buffer.concat(pairs.flatMap((pair, i) => (i === 0 ? [pair] : [Buffer.from('&'), pair]))).toString('utf8');
}

/**
 * True when the query of an OAuth redirect from Shopify (install or callback) carries a
 * valid `hmac`. False for a missing, repeated, non-hex, uppercase-hex or wrong-length hmac,
 * or a query Shopify could not have signed. The query is the *decoded* parameters as the
 * HTTP framework parsed them (Fastify: `request.query`). It does not check `timestamp`
 * freshness, `state` or the shop domain: the callback route does those too.
 */
export function verifyOAuthCallbackHmac(query: QueryParams, apiSecret: string): boolean {
  assertSecret(apiSecret);
  if (typeof query !== 'object' || query === null) return false;
  const hmac: unknown = query.hmac;
  if (typeof hmac !== 'string' || !HEX_SHA256.test(hmac)) return false;
  const message = oauthHmacMessage(query);
  if (message === null) return false;
  const expected = createHmac('sha256', apiSecret).update(message, 'utf8').digest();
  return timingSafeEqual(expected, Buffer.from(hmac, 'hex'));
}

/**
 * True when `X-Shopify-Hmac-Sha256` is the base64 HMAC-SHA256 of exactly these body bytes.
 * Needs the raw body: re-serialised JSON differs from what Shopify signed. The header must be
 * the canonical 44-character base64 text; anything else is false.
 */
export function verifyWebhookHmac(rawBody: Buffer, headerValue: string | undefined, apiSecret: string): boolean {
  assertSecret(apiSecret);
  if (!Buffer.isBuffer(rawBody)) return false;
  if (typeof headerValue !== 'string' || !BASE64_SHA256.test(headerValue)) return false;
  const expected = Buffer.from(createHmac('sha256', apiSecret).update(rawBody).digest('base64'), 'ascii');
  return timingSafeEqual(expected, Buffer.from(headerValue, 'ascii'));
}
