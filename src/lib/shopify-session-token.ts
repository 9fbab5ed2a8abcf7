// Verification of Shopify session tokens (App Bridge `idToken()`), the credential an embedded
// app exchanges for Pigeon tokens. A session token is a compact JWS signed with HS256 using the
// app's client secret; its claims are
//   iss  https://<shop>.myshopify.com/admin     dest https://<shop>.myshopify.com
//   aud  the app's client id (API key)          sub  the staff user id (a string)
//   exp, nbf, iat (seconds; lifetime one minute) jti, sid (the admin session)
// Done by hand rather than through a JWT library because the algorithm, the required claims
// and the audience must all be pinned here (generic libraries check none of them unless
// told). Order matters: the header is read only to refuse anything but HS256, the signature
// is checked next, and no payload byte is parsed or trusted before it has passed.
import { createHmac, timingSafeEqual } from 'node:crypto';
import { shopDomainFromAdminUrl, shopDomainFromUrl } from './shopify-domain.js';

export type ShopifyTokenErrorCode =
  | 'MALFORMED'
  | 'BAD_ALG'
  | 'BAD_SIGNATURE'
  | 'EXPIRED'
  | 'NOT_YET_VALID'
  | 'BAD_AUDIENCE'
  | 'BAD_ISSUER';

/** A refused session token. The message never contains the token. Answer it with a 401. */
export class ShopifyTokenError extends Error {
  constructor(
    readonly code: ShopifyTokenErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ShopifyTokenError';
  }
}

export interface ShopifySessionTokenPayload {
  iss: string;
  dest: string;
  aud: string;
  exp: number;
  nbf: number;
  sub?: string;
  iat?: number;
  jti?: string;
  sid?: string;
  [claim: string]: unknown;
}

export interface VerifiedShopifySessionToken {
  /** `foo.myshopify.com`, the shop both `iss` and `dest` name. */
  shop: string;
  /** `sub`: the Shopify staff user id, when the token has one. */
  userId?: string;
  /** `sid`: the Shopify admin session id, when the token has one. */
  sessionId?: string;
  payload: ShopifySessionTokenPayload;
}

export interface VerifyShopifySessionTokenOptions {
  /** The app's client id; `aud` must equal it. */
  apiKey: string;
  /** The app's client secret, the HS256 key. */
  apiSecret: string;
  /** Current time in milliseconds since the epoch (as Date.now()); defaults to Date.now(). */
  now?: number;
  /** Clock skew allowed on `exp` and `nbf`, in seconds (default 5, at most 300). */
  leewaySeconds?: number;
}

// Real tokens are well under 1 KiB; anything this long is not one and is not worth hashing.
const MAX_TOKEN_LENGTH = 8192;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
// Header parameters we accept. `kid` is tolerated and ignored; `crit`, `b64`, `jku`, `jwk`,
// `x5u`, … are refused: we implement no extension, so none can be honoured.
const ALLOWED_HEADER_PARAMS = new Set(['alg', 'typ', 'kid']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function verifyShopifySessionToken(
  token: string,
  opts: VerifyShopifySessionTokenOptions,
): VerifiedShopifySessionToken {
  const { apiKey, apiSecret } = opts;
  // Configuration errors, not token errors: an empty secret would let anyone sign.
  if (typeof apiKey !== 'string' || apiKey.length === 0) throw new TypeError('apiKey must be a non-empty string');
  if (typeof apiSecret !== 'string' || apiSecret.length === 0) throw new TypeError('apiSecret must be a non-empty string');
  const leeway = opts.leewaySeconds ?? 5;
  if (!Number.isFinite(leeway) || leeway < 0 || leeway > 300) throw new RangeError('leewaySeconds must be between 0 and 300');
  const nowMs = opts.now ?? Date.now();
  if (!Number.isFinite(nowMs)) throw new RangeError('now must be a finite number of milliseconds');

  if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw new ShopifyTokenError('MALFORMED', 'session token is missing or too long');
  }
  const segments = token.split('.');
  if (segments.length !== 3) throw new ShopifyTokenError('MALFORMED', 'session token is not a compact JWS');
  const [headerSegment, payloadSegment, signatureSegment] = segments as [string, string, string];
  if (!BASE64URL.test(headerSegment) || !BASE64URL.test(payloadSegment) || !BASE64URL.test(signatureSegment)) {
    throw new ShopifyTokenError('MALFORMED', 'session token segments are not base64url');
  }

  // 1. Header: only to refuse every algorithm but HS256 (this is what stops `alg: none`).
  const header = decodeJsonObject(headerSegment);
  if (header === null) throw new ShopifyTokenError('MALFORMED', 'session token header is not a JSON object');
  if ('crit' in header) throw new ShopifyTokenError('BAD_ALG', 'session token header has critical extensions');
  if (header.alg !== 'HS256') throw new ShopifyTokenError('BAD_ALG', 'session token algorithm is not HS256');
  for (const name of Object.keys(header)) {
    if (!ALLOWED_HEADER_PARAMS.has(name)) throw new ShopifyTokenError('MALFORMED', 'session token header has an unexpected parameter');
  }
  if (header.typ !== undefined && header.typ !== 'JWT') throw new ShopifyTokenError('MALFORMED', 'session token type is not JWT');
  if (header.kid !== undefined && typeof header.kid !== 'string') throw new ShopifyTokenError('MALFORMED', 'session token kid is not a string');

  // 2. Signature over the exact segments as received. Comparing the canonical base64url
  // text (always 43 characters for 32 bytes) also refuses re-encodings of the same bytes.
  const expected = createHmac('sha256', apiSecret).update(`${headerSegment}.${payloadSegment}`, 'ascii').digest('base64url');
  const given = Buffer.from(signatureSegment, 'ascii');
  const wanted = Buffer.from(expected, 'ascii');
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) {
    throw new ShopifyTokenError('BAD_SIGNATURE', 'session token signature does not verify');
  }

  // 3. Claims, now that they are known to come from Shopify.
  const claims = decodeJsonObject(payloadSegment);
  if (claims === null) throw new ShopifyTokenError('MALFORMED', 'session token payload is not a JSON object');

  if (typeof claims.aud !== 'string' || claims.aud !== apiKey) {
    throw new ShopifyTokenError('BAD_AUDIENCE', 'session token was issued for another app');
  }

  const { exp, nbf, iat } = claims;
  if (typeof exp !== 'number' || !Number.isFinite(exp) || typeof nbf !== 'number' || !Number.isFinite(nbf)) {
    throw new ShopifyTokenError('MALFORMED', 'session token exp and nbf must be numbers');
  }
  if (iat !== undefined && (typeof iat !== 'number' || !Number.isFinite(iat))) {
    throw new ShopifyTokenError('MALFORMED', 'session token iat must be a number');
  }
  const nowSeconds = nowMs / 1000;
  if (nowSeconds >= exp + leeway) throw new ShopifyTokenError('EXPIRED', 'session token has expired');
  if (nowSeconds < nbf - leeway) throw new ShopifyTokenError('NOT_YET_VALID', 'session token is not valid yet');

  const issShop = shopDomainFromAdminUrl(claims.iss);
  const destShop = shopDomainFromUrl(claims.dest);
  if (issShop === null || destShop === null || issShop !== destShop) {
    throw new ShopifyTokenError('BAD_ISSUER', 'session token iss and dest do not name one myshopify.com shop');
  }

  for (const name of ['sub', 'sid', 'jti'] as const) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== 'string' || value.length === 0)) {
      throw new ShopifyTokenError('MALFORMED', `session token ${name} must be a non-empty string`);
    }
  }

  const payload = claims as ShopifySessionTokenPayload;
  const verified: VerifiedShopifySessionToken = { shop: destShop, payload };
  if (payload.sub !== undefined) verified.userId = payload.sub;
  if (payload.sid !== undefined) verified.sessionId = payload.sid;
  return verified;
}

/** A base64url segment holding a JSON object, or null. Refuses non-canonical base64url and invalid UTF-8. */
function decodeJsonObject(segment: string): Record<string, unknown> | null {
  if (segment.length === 0) return null;
  const bytes = Buffer.from(segment, 'base64url');
  if (bytes.toString('base64url') !== segment) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(bytes));
  } catch {
    return null;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
  return parsed as Record<string, unknown>;
}
