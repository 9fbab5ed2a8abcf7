// Signing up through the real API: a fresh user and shop, with the headers an authenticated
// request carries. One helper for every test file; each sign-up comes from its own address
// (sign-up is rate limited per address), in the documentation range 198.18.0.0/15.
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';

export const TEST_PASSWORD = 'correct horse battery staple';
let seq = 0;

/** A fresh client address per call, so per-address limits never interfere between tests. */
export function nextAddress(): string {
  seq++;
  return `198.${18 + Math.floor(seq / 65_536)}.${Math.floor(seq / 256) % 256}.${seq % 256}`;
}

export interface Account {
  shopId: string;
  userId: string;
  email: string;
  accessToken: string;
  headers: { authorization: string };
}

export async function signUp(app: FastifyInstance, options: { email?: string; password?: string; shopName?: string } = {}): Promise<Account> {
  const email = options.email ?? `${randomUUID()}@example.test`;
  const res = await app.inject({
    method: 'POST',
    url: '/api/v1/auth/signup',
    remoteAddress: nextAddress(),
    payload: { email, password: options.password ?? TEST_PASSWORD, shopName: options.shopName ?? 'Shop' },
  });
  if (res.statusCode !== 201) throw new Error(`sign-up failed: ${res.statusCode} ${res.body}`);
  const body = res.json();
  return { shopId: body.shop.id, userId: body.user.id, email, accessToken: body.accessToken, headers: { authorization: `Bearer ${body.accessToken}` } };
}
