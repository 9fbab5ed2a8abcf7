// A stand-in for Shopify's OAuth token endpoint on 127.0.0.1, speaking its protocol:
// POST /{shop}/admin/oauth/access_token with {client_id, client_secret, code} answers
// {access_token, scope} for a code it issued (once), 400 otherwise. Point the app at it
// with SHOPIFY_ADMIN_URL = fake.adminUrlTemplate. The same server speaks the Admin GraphQL
// API (fake.admin, test/helpers/fake-shopify-admin.ts), where the tokens it grants work.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createFakeShopifyAdmin, type FakeShopifyAdmin } from './fake-shopify-admin.js';

export interface FakeShopify {
  adminUrlTemplate: string;
  /** What the merchant's approval produces: a one-time code for this shop. */
  approve(shop: string, opts?: { scope?: string; accessToken?: string }): { code: string; accessToken: string };
  /** The Admin GraphQL API of the same shops. */
  admin: FakeShopifyAdmin;
  /** Every OAuth request the fake received. */
  requests: Array<{ method: string; url: string; body: Record<string, unknown> }>;
  /** Answer the next token requests with this HTTP status instead. */
  failWith: number | null;
  close(): Promise<void>;
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
  } catch {
    return {};
  }
}

export async function startFakeShopify(apiKey: string, apiSecret: string): Promise<FakeShopify> {
  const codes = new Map<string, { shop: string; scope: string; accessToken: string }>();
  const admin = createFakeShopifyAdmin();
  const fake: FakeShopify = {
    adminUrlTemplate: '',
    admin,
    requests: [],
    failWith: null,
    approve(shop, opts = {}) {
      const code = randomBytes(16).toString('hex');
      const accessToken = opts.accessToken ?? `shpat_${randomBytes(16).toString('hex')}`;
      codes.set(code, { shop, scope: opts.scope ?? 'read_customers,read_orders', accessToken });
      return { code, accessToken };
    },
    close: () =>
      new Promise((resolve) => {
        admin.stop();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server = createServer(async (req, res) => {
    if (admin.handle(req, res)) return;
    const body = await readJson(req);
    fake.requests.push({ method: req.method ?? '', url: req.url ?? '', body });
    const match = /^\/([a-z0-9-]+\.myshopify\.com)\/admin\/oauth\/access_token$/.exec(req.url ?? '');
    if (req.method !== 'POST' || !match) {
      res.writeHead(404).end();
      return;
    }
    if (fake.failWith) {
      res.writeHead(fake.failWith, { 'content-type': 'application/json' }).end('{"errors":"unavailable"}');
      return;
    }
    const grant = typeof body.code === 'string' ? codes.get(body.code) : undefined;
    if (body.client_id !== apiKey || body.client_secret !== apiSecret || !grant || grant.shop !== match[1]) {
      res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":"invalid_request"}');
      return;
    }
    codes.delete(body.code as string);
    admin.grant(grant.shop, grant.accessToken);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: grant.accessToken, scope: grant.scope }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  admin.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  admin.adminUrlTemplate = `${admin.origin}/{shop}`;
  fake.adminUrlTemplate = admin.adminUrlTemplate;
  return fake;
}
