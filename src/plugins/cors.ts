// CORS from an explicit allowlist. Exact origin matches only (a RegExp like /example\.com$/
// would also match evilexample.com); Shopify admin origins by an anchored pattern, opt-in.
import fp from 'fastify-plugin';
import cors from '@fastify/cors';

const SHOPIFY_ADMIN_ORIGINS = [/^https:\/\/admin\.shopify\.com$/, /^https:\/\/[a-z0-9][a-z0-9-]{0,60}\.myshopify\.com$/];

export function isAllowedOrigin(origin: string, allowedOrigins: string[], allowShopifyAdmin: boolean): boolean {
  if (allowedOrigins.includes(origin)) return true;
  return allowShopifyAdmin && SHOPIFY_ADMIN_ORIGINS.some((pattern) => pattern.test(origin));
}

export default fp(
  async (app, opts: { allowedOrigins: string[]; allowShopifyAdminOrigins: boolean }) => {
    await app.register(cors, {
      delegator: (request, callback) => {
        const origin = request.headers.origin;
        if (!origin) return callback(null, { origin: false });
        const allowed = isAllowedOrigin(origin, opts.allowedOrigins, opts.allowShopifyAdminOrigins);
        if (!allowed) request.log.warn({ origin: origin.slice(0, 200) }, 'CORS origin refused');
        callback(null, {
          origin: allowed ? origin : false,
          credentials: true,
          methods: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'],
          allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-CSRF-Token', 'X-Request-Id'],
          exposedHeaders: [
            'X-Request-Id',
            'Retry-After',
            'X-RateLimit-Limit',
            'X-RateLimit-Remaining',
            'X-RateLimit-Reset',
            'Idempotent-Replayed',
          ],
          maxAge: 600,
        });
      },
    });
  },
  { name: 'cors' },
);
