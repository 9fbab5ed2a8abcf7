// Issuing a signed-in session to the client: the access token (JWT, also as the HttpOnly
// `pigeon_access` cookie for browser clients, who then need the CSRF token on changes) and
// the refresh token as the `pigeon_refresh` cookie, scoped to the auth routes. Shared by
// every route that signs someone in: sign-up, login, refresh, shop switch, and the Shopify
// session-token exchange.
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { MemberRole } from '../db/database.js';
import { ACCESS_COOKIE } from './auth.js';

export const REFRESH_COOKIE = 'pigeon_refresh';
export const REFRESH_COOKIE_PATH = '/api/v1/auth';

export interface SessionToIssue {
  userId: string;
  shopId: string;
  role: MemberRole;
  sessionId: string;
  /** The raw refresh token: goes to the client once, only its hash is stored. */
  refreshToken: string;
}

export function issueSessionTokens(app: FastifyInstance, reply: FastifyReply, session: SessionToIssue): { accessToken: string; expiresIn: number } {
  const { config } = app;
  const secureCookie = config.nodeEnv !== 'development';
  const accessToken = app.jwt.sign({ sub: session.userId, sid: session.sessionId, shop: session.shopId, role: session.role, typ: 'access' });
  reply.setCookie(REFRESH_COOKIE, session.refreshToken, { httpOnly: true, secure: secureCookie, sameSite: 'strict', path: REFRESH_COOKIE_PATH, maxAge: config.refreshTokenTtlSeconds });
  reply.setCookie(ACCESS_COOKIE, accessToken, { httpOnly: true, secure: secureCookie, sameSite: 'strict', path: '/api', maxAge: config.accessTokenTtlSeconds });
  reply.header('Cache-Control', 'no-store');
  return { accessToken, expiresIn: config.accessTokenTtlSeconds };
}
