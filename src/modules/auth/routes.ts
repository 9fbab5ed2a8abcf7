// Sign-up, sign-in, refresh, sign-out, and who am I.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../../lib/app-error.js';
import { ACCESS_COOKIE, authOf, requireAuth } from '../../plugins/auth.js';
import { byClientAddress } from '../../plugins/rate-limit.js';
import { readInShop } from '../../db/with-shop.js';
import { issueSessionTokens, REFRESH_COOKIE, REFRESH_COOKIE_PATH, type SessionToIssue } from '../../plugins/session-tokens.js';
import { changePassword, listSessions, login, logout, refresh, revokeSession, signup, switchShop, whoAmI } from './service.js';
import { clientInfo } from '../audit/service.js';


const Email = Type.String({ format: 'email', minLength: 3, maxLength: 320 });
// Length is checked by the policy (12-128); the schema only bounds what is hashed.
const Password = Type.String({ minLength: 1, maxLength: 1024 });
const User = Type.Object({ id: Type.String({ format: 'uuid' }), email: Type.String() }, { additionalProperties: false });
// GET /me may be a Shopify staff identity, which has no e-mail address.
const Me = Type.Object({ id: Type.String({ format: 'uuid' }), email: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false });
const Shop = Type.Object({ id: Type.String({ format: 'uuid' }), name: Type.String() }, { additionalProperties: false });
const ErrorResponse = Type.Object({
  error: Type.Object({ code: Type.String(), message: Type.String(), requestId: Type.String(), details: Type.Optional(Type.Unknown()) }),
});

export const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config, db } = app;

  const issue = (reply: FastifyReply, session: SessionToIssue) => issueSessionTokens(app, reply, session);

  app.post(
    '/api/v1/auth/signup',
    {
      config: { rateLimit: { max: 3, timeWindow: '1 hour', keyGenerator: byClientAddress, failClosed: true } },
      schema: {
        tags: ['auth'],
        summary: 'Create a user, their first shop and an owner membership',
        body: Type.Object({ email: Email, password: Password, shopName: Type.String({ minLength: 1, maxLength: 200 }) }, { additionalProperties: false }),
        response: {
          201: Type.Object({ user: User, shop: Shop, accessToken: Type.String(), expiresIn: Type.Integer() }, { additionalProperties: false }),
          400: ErrorResponse,
          409: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const result = await signup(db, config, request.body, clientInfo(request));
      const tokens = issue(reply, result);
      return reply.code(201).send({ user: { id: result.userId, email: result.email }, shop: { id: result.shopId, name: result.shopName }, ...tokens });
    },
  );

  app.post(
    '/api/v1/auth/login',
    {
      config: { rateLimit: { max: 5, timeWindow: '15 minutes', keyGenerator: byClientAddress, failClosed: true } },
      schema: {
        tags: ['auth'],
        summary: 'Sign in with e-mail and password; sets the refresh cookie',
        body: Type.Object({ email: Type.String({ minLength: 1, maxLength: 320 }), password: Password }, { additionalProperties: false }),
        response: {
          200: Type.Object({ accessToken: Type.String(), expiresIn: Type.Integer(), user: User, shop: Shop }, { additionalProperties: false }),
          401: ErrorResponse,
          423: ErrorResponse,
        },
      },
    },
    async (request, reply) => {
      const outcome = await login(db, config, request.body, clientInfo(request));
      if (!outcome.ok) {
        if (outcome.reason === 'locked') {
          throw new AppError(423, 'ACCOUNT_LOCKED', 'The account is locked after repeated failed sign-ins', undefined, {
            'Retry-After': String(outcome.retryAfterSeconds),
          });
        }
        // One answer for an unknown e-mail and a wrong password.
        throw new AppError(401, 'INVALID_CREDENTIALS', 'E-mail or password is incorrect');
      }
      const tokens = issue(reply, outcome.session);
      return { ...tokens, user: { id: outcome.session.userId, email: outcome.email }, shop: { id: outcome.session.shopId, name: outcome.shopName } };
    },
  );

  app.post(
    '/api/v1/auth/refresh',
    {
      config: { rateLimit: { max: 30, timeWindow: '1 minute', keyGenerator: byClientAddress } },
      schema: {
        tags: ['auth'],
        summary: 'Rotate the refresh cookie and get a new access token',
        response: { 200: Type.Object({ accessToken: Type.String(), expiresIn: Type.Integer() }, { additionalProperties: false }), 401: ErrorResponse },
      },
    },
    async (request, reply) => {
      const token = request.cookies[REFRESH_COOKIE];
      if (!token || !/^[A-Za-z0-9_-]{43}$/.test(token)) throw new AppError(401, 'UNAUTHENTICATED', 'Missing or invalid refresh token');
      const outcome = await refresh(db, config, token, clientInfo(request));
      if (!outcome.ok) {
        reply.clearCookie(REFRESH_COOKIE, { path: REFRESH_COOKIE_PATH });
        throw new AppError(401, 'UNAUTHENTICATED', 'Missing or invalid refresh token');
      }
      return issue(reply, outcome.session);
    },
  );

  for (const [url, everywhere] of [['/api/v1/auth/logout', false], ['/api/v1/auth/logout-all', true]] as const) {
    app.post(
      url,
      {
        preHandler: requireAuth,
        schema: {
          tags: ['auth'],
          summary: everywhere ? 'Revoke every session of the user' : 'Revoke this session',
          security: [{ bearerAuth: [] }],
          response: { 204: Type.Null(), 401: ErrorResponse },
        },
      },
      async (request, reply) => {
        const auth = authOf(request);
        await logout(db, config, auth.userId, auth.sessionId, clientInfo(request), everywhere);
        reply.clearCookie(REFRESH_COOKIE, { path: REFRESH_COOKIE_PATH });
        reply.clearCookie(ACCESS_COOKIE, { path: '/api' });
        return reply.code(204).send(null);
      },
    );
  }

  app.get(
    '/api/v1/auth/csrf',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['auth'],
        summary: 'A CSRF token for this session (cookie clients send it as X-CSRF-Token)',
        security: [{ cookieAuth: [] }, { bearerAuth: [] }],
        response: { 200: Type.Object({ csrfToken: Type.String() }, { additionalProperties: false }), 401: ErrorResponse },
      },
    },
    async (request, reply) => {
      const auth = authOf(request);
      reply.header('Cache-Control', 'no-store');
      return { csrfToken: reply.generateCsrf({ userInfo: auth.sessionId }) };
    },
  );

  const Session = Type.Object(
    { id: Type.String(), createdAt: Type.String(), lastUsedAt: Type.String(), expiresAt: Type.String(), current: Type.Boolean() },
    { additionalProperties: false },
  );

  app.get(
    '/api/v1/auth/sessions',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['auth'],
        summary: 'Your live sessions',
        security: [{ bearerAuth: [] }],
        response: { 200: Type.Object({ items: Type.Array(Session), nextCursor: Type.Null() }, { additionalProperties: false }), 401: ErrorResponse },
      },
    },
    async (request) => {
      const auth = authOf(request);
      // At most MAX_SESSIONS_PER_USER live sessions: one page always holds them all.
      return { items: await listSessions(db, auth.userId, auth.sessionId), nextCursor: null };
    },
  );

  app.delete(
    '/api/v1/auth/sessions/:id',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['auth'],
        summary: 'Revoke one of your sessions',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
        response: { 204: Type.Null(), 401: ErrorResponse, 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const auth = authOf(request);
      // Another user's session id looks exactly like a missing one.
      if (!(await revokeSession(db, config, auth.userId, request.params.id, clientInfo(request)))) throw new AppError(404, 'NOT_FOUND', 'Session not found');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/auth/password',
    {
      preHandler: requireAuth,
      config: { rateLimit: { max: 5, timeWindow: '15 minutes', failClosed: true } },
      schema: {
        tags: ['auth'],
        summary: 'Change your password (needs the current one; signs out every other session)',
        security: [{ bearerAuth: [] }],
        body: Type.Object({ currentPassword: Password, newPassword: Password }, { additionalProperties: false }),
        response: { 204: Type.Null(), 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse },
      },
    },
    async (request, reply) => {
      const auth = authOf(request);
      const outcome = await changePassword(db, config, auth.userId, auth.sessionId, request.body, clientInfo(request));
      if (outcome === 'wrong_password') throw new AppError(403, 'WRONG_PASSWORD', 'The current password is incorrect');
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/api/v1/shops/:shopId/switch',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['auth'],
        summary: 'New tokens acting in another shop you belong to',
        security: [{ bearerAuth: [] }],
        params: Type.Object({ shopId: Type.String({ format: 'uuid' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ accessToken: Type.String(), expiresIn: Type.Integer(), shop: Shop, role: Type.String() }, { additionalProperties: false }), 404: ErrorResponse },
      },
    },
    async (request, reply) => {
      const auth = authOf(request);
      const session = await switchShop(db, config, auth.userId, auth.sessionId, request.params.shopId, clientInfo(request));
      if (!session) throw new AppError(404, 'NOT_FOUND', 'Shop not found');
      return { ...issue(reply, session), shop: session.shop, role: session.role };
    },
  );

  app.get(
    '/api/v1/me',
    {
      preHandler: requireAuth,
      schema: {
        tags: ['auth'],
        summary: 'The user, the current shop and the role',
        security: [{ bearerAuth: [] }],
        response: {
          200: Type.Object({ user: Me, shop: Shop, role: Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]) }, { additionalProperties: false }),
          401: ErrorResponse,
        },
      },
    },
    async (request) => {
      const auth = authOf(request);
      return readInShop(db, auth.shopId, (tx) => whoAmI(tx, auth.userId, auth.shopId, auth.role), auth.userId);
    },
  );
};
