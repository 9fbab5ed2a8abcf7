// Authentication: a Bearer access token (JWT, HS256 pinned, iss/aud/sub/sid/shop/role/typ all
// required; fast-jwt checks none of them unless told) plus, on every request, one indexed
// lookup that the session is live and what role the user holds in the shop now.
import fp from 'fastify-plugin';
import jwt from '@fastify/jwt';
import csrf from '@fastify/csrf-protection';
import { createHmac } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.js';
import type { Db } from '../db/kysely.js';
import type { MemberRole } from '../db/database.js';
import { isUuid } from '../db/tenant-context.js';
import { AppError } from '../lib/app-error.js';
import { sessionRole } from './session-check.js';

export interface AuthContext {
  userId: string;
  shopId: string;
  sessionId: string;
  role: MemberRole;
  /** A cookie-authenticated request that changes state must carry a CSRF token. */
  via: 'bearer' | 'cookie';
}

export const ACCESS_COOKIE = 'pigeon_access';
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export interface AccessTokenClaims {
  sub: string;
  sid: string;
  shop: string;
  role: MemberRole;
  typ: 'access';
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
  }
}

declare module '@fastify/jwt' {
  interface FastifyJWT {
    payload: AccessTokenClaims;
    user: AccessTokenClaims & { iss: string; aud: string; exp: number; iat: number };
  }
}

const unauthenticated = (message = 'Authentication required') =>
  new AppError(401, 'UNAUTHENTICATED', message, undefined, { 'WWW-Authenticate': 'Bearer' });

/** For routes that need a signed-in user: preHandler: [requireAuth]. */
export async function requireAuth(request: FastifyRequest): Promise<void> {
  if (!request.auth) throw unauthenticated();
}

export function authOf(request: FastifyRequest): AuthContext {
  if (!request.auth) throw unauthenticated();
  return request.auth;
}

export default fp(
  async (app, opts: { config: Config; db: Db }) => {
    const { config, db } = opts;
    await app.register(jwt, {
      secret: config.jwtSecret,
      sign: { algorithm: 'HS256', iss: config.jwtIssuer, aud: config.jwtAudience, expiresIn: `${config.accessTokenTtlSeconds}s` },
      verify: {
        algorithms: ['HS256'],
        allowedIss: config.jwtIssuer,
        allowedAud: config.jwtAudience,
        requiredClaims: ['iss', 'aud', 'sub', 'sid', 'shop', 'role', 'typ', 'exp', 'iat'],
        cache: false,
      },
    });
    // Double-submit CSRF for cookie-authenticated browsers: the secret in a cookie, the token
    // (HMAC-bound to the session id) only in the X-CSRF-Token header.
    await app.register(csrf, {
      sessionPlugin: '@fastify/cookie',
      cookieKey: 'pigeon_csrf',
      cookieOpts: { httpOnly: true, secure: config.nodeEnv !== 'development', sameSite: 'strict', path: '/api' },
      getToken: (request) => {
        const token = request.headers['x-csrf-token'];
        return typeof token === 'string' ? token : undefined;
      },
      getUserInfo: (request) => request.auth?.sessionId ?? '',
      csrfOpts: { hmacKey: createHmac('sha256', config.jwtSecret).update('pigeon csrf').digest('base64'), userInfo: true },
    });
    app.decorateRequest('auth', null);

    // onRequest, so that the rate limiter (which runs in the route's onRequest) keys on the shop.
    app.addHook('onRequest', async (request) => {
      if (!request.url.startsWith('/api/')) return;
      const header = request.headers.authorization;
      const cookie = request.cookies[ACCESS_COOKIE];
      if (!header && !cookie) return;
      let claims: AccessTokenClaims;
      if (header) {
        if (!/^Bearer [A-Za-z0-9._~+/=-]+$/.test(header)) throw unauthenticated('Malformed Authorization header');
      }
      try {
        claims = header
          ? await request.jwtVerify<AccessTokenClaims>()
          : (app.jwt.verify<AccessTokenClaims>(cookie!) as AccessTokenClaims);
      } catch {
        throw unauthenticated('Invalid or expired access token');
      }
      // A refresh token (opaque) never parses as a JWT; typ keeps other JWTs out.
      if (claims.typ !== 'access' || !isUuid(claims.sub) || !isUuid(claims.sid) || !isUuid(claims.shop)) {
        throw unauthenticated('Invalid access token');
      }
      const role = await sessionRole(db, claims.sid, claims.sub, claims.shop);
      if (!role) throw unauthenticated('Session is no longer valid');
      request.auth = { userId: claims.sub, shopId: claims.shop, sessionId: claims.sid, role, via: header ? 'bearer' : 'cookie' };
      request.rateLimitShopId = claims.shop;
    });

    // A browser sends the cookie on its own; only a page of ours can read the CSRF token.
    // Bearer requests need none: a token in a header is not sent by the browser unasked.
    app.addHook('preHandler', (request, reply, done) => {
      if (request.auth?.via === 'cookie' && STATE_CHANGING.has(request.method)) {
        app.csrfProtection(request, reply, done);
        return;
      }
      done();
    });

    // Authenticated responses are never cached by browsers or proxies.
    app.addHook('onSend', async (request, reply) => {
      if (request.auth) reply.header('Cache-Control', 'no-store');
    });
  },
  { name: 'auth', dependencies: ['errors'] },
);
