// Signing up and signing in through the real API: a fresh user and shop, with the headers an
// authenticated request carries. One helper for every test file; each sign-up and sign-in
// comes from its own address (both are rate limited per address), in the benchmarking range
// 198.18.0.0/15, unless a test of those limits names the address.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';

export const TEST_PASSWORD = 'correct horse battery staple';
let seq = 0;

/** A fresh client address per call, so per-address limits never interfere between tests. */
export function nextAddress(): string {
  seq++;
  return `198.${18 + Math.floor(seq / 65_536)}.${Math.floor(seq / 256) % 256}.${seq % 256}`;
}

/** The headers of a request made with this access token. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** The value of a cookie the response set, if it set it. */
export function cookieOf(res: LightMyRequestResponse, name: string): string | undefined {
  return (res.cookies as Array<{ name: string; value: string }>).find((c) => c.name === name)?.value;
}

export interface SignUpOptions {
  email?: string;
  password?: string;
  shopName?: string;
  /** The client address; a fresh one unless a test of the per-address limits names it. */
  remoteAddress?: string;
}

/** The sign-up request itself, whatever it answers: for the tests of sign-up. */
export function signUpRequest(app: FastifyInstance, options: SignUpOptions = {}): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST',
    url: '/api/v1/auth/signup',
    remoteAddress: options.remoteAddress ?? nextAddress(),
    payload: { email: options.email ?? `${randomUUID()}@example.test`, password: options.password ?? TEST_PASSWORD, shopName: options.shopName ?? 'Shop' },
  });
}

export interface Account {
  shopId: string;
  userId: string;
  email: string;
  /** The session the sign-up opened (the access token's `sid`). */
  sessionId: string;
  accessToken: string;
  /** The `pigeon_refresh` cookie the sign-up set. */
  refreshToken: string;
  headers: { authorization: string };
  /** The sign-up response, for tests that look at it (its body, its cookies). */
  response: LightMyRequestResponse;
}

/** A signed-up account; throws unless the sign-up succeeded. */
export async function signUp(app: FastifyInstance, options: Omit<SignUpOptions, 'remoteAddress'> = {}): Promise<Account> {
  const email = options.email ?? `${randomUUID()}@example.test`;
  const res = await signUpRequest(app, { ...options, email });
  if (res.statusCode !== 201) throw new Error(`sign-up failed: ${res.statusCode} ${res.body}`);
  const body = res.json();
  const claims = app.jwt.decode<{ sid: string }>(body.accessToken);
  if (!claims) throw new Error('sign-up returned an undecodable access token');
  return {
    shopId: body.shop.id,
    userId: body.user.id,
    email,
    sessionId: claims.sid,
    accessToken: body.accessToken,
    refreshToken: cookieOf(res, 'pigeon_refresh') ?? '',
    headers: bearer(body.accessToken),
    response: res,
  };
}

/** A sign-in attempt, from a fresh address unless one is named. */
export function logIn(app: FastifyInstance, email: string, password: string, remoteAddress = nextAddress()): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/api/v1/auth/login', remoteAddress, payload: { email, password } });
}

/** GET /api/v1/me with this access token: whether the session still works. */
export function whoAmI(app: FastifyInstance, token: string): Promise<LightMyRequestResponse> {
  return app.inject({ url: '/api/v1/me', headers: bearer(token) });
}
