// Request durations, and GET /metrics for allowed addresses or holders of the metrics token.
import { timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import proxyAddr from '@fastify/proxy-addr';
import { AppError } from '../lib/app-error.js';
import type { Metrics } from '../metrics.js';

function tokenMatches(expected: string, presented: string | undefined): boolean {
  if (!presented) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(presented);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Who may read metrics: an allowed address, or the holder of the metrics token. */
export function metricsAccess(allowedIps: string[], token: string | undefined): (ip: string, authorization: string | undefined) => boolean {
  const isAllowedAddress = proxyAddr.compile(allowedIps);
  return (ip, authorization) => {
    const bearer = typeof authorization === 'string' && authorization.startsWith('Bearer ') ? authorization.slice(7) : undefined;
    return isAllowedAddress(ip, 0) || (token !== undefined && tokenMatches(token, bearer));
  };
}

export default fp(
  async (app, opts: { metrics: Metrics; allowedIps: string[]; token: string | undefined }) => {
    const { metrics } = opts;
    const mayRead = metricsAccess(opts.allowedIps, opts.token);

    app.addHook('onResponse', async (request, reply) => {
      // The route template, never the raw URL: ids must not explode label cardinality.
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.httpRequestDuration.observe(
        { method: request.method, route, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });

    app.get('/metrics', { schema: { hide: true } }, async (request, reply) => {
      if (!mayRead(request.ip, request.headers.authorization)) throw new AppError(403, 'FORBIDDEN', 'Metrics are not available to this client');
      reply.header('content-type', metrics.registry.contentType);
      reply.header('cache-control', 'no-store');
      return metrics.registry.metrics();
    });
  },
  { name: 'metrics' },
);
