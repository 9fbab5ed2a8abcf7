// Liveness (the process answers) and readiness (database reachable, migrations current).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { AppError } from '../../lib/app-error.js';
import { HealthResponse, ReadyResponse } from './schemas.js';
import { checkReadiness, latestMigrationOnDisk } from './service.js';

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const latestOnDisk = await latestMigrationOnDisk();

  app.get(
    '/health/live',
    { schema: { tags: ['health'], summary: 'Liveness', response: { 200: HealthResponse } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    { schema: { tags: ['health'], summary: 'Readiness: database reachable and migrations current', response: { 200: ReadyResponse } } },
    async (request) => {
      const readiness = await checkReadiness(app.db, latestOnDisk);
      if (readiness.ready) return { status: 'ok' as const, migration: readiness.applied };
      if (readiness.reason === 'unreachable') {
        request.log.warn({ err: readiness.error }, 'readiness: database unreachable');
        throw new AppError(503, 'NOT_READY', 'Database unreachable', undefined, { 'Retry-After': '5' });
      }
      throw new AppError(503, 'NOT_READY', 'Database migrations are not current', { applied: readiness.applied, expected: readiness.expected }, {
        'Retry-After': '5',
      });
    },
  );
};
