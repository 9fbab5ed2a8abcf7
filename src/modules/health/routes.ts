// Liveness (the process answers) and readiness (database reachable, migrations current).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import { readMigrations } from '../../db/migrate.js';
import { AppError } from '../../lib/app-error.js';

const HealthResponse = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false });
const ReadyResponse = Type.Object(
  { status: Type.Literal('ok'), migration: Type.Integer() },
  { additionalProperties: false },
);

export const healthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const migrations = await readMigrations();
  const latestOnDisk = migrations[migrations.length - 1]?.id ?? 0;

  app.get(
    '/health/live',
    { schema: { tags: ['health'], summary: 'Liveness', response: { 200: HealthResponse } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/health/ready',
    { schema: { tags: ['health'], summary: 'Readiness: database reachable and migrations current', response: { 200: ReadyResponse } } },
    async (request) => {
      let applied: number | null;
      try {
        const { rows } = await sql<{ id: number | null }>`select max(id) as id from pigeon_migrations.applied`.execute(app.db);
        applied = rows[0]?.id ?? null;
      } catch (error) {
        request.log.warn({ err: error }, 'readiness: database unreachable');
        throw new AppError(503, 'NOT_READY', 'Database unreachable', undefined, { 'Retry-After': '5' });
      }
      if (applied === null || applied < latestOnDisk) {
        throw new AppError(503, 'NOT_READY', 'Database migrations are not current', { applied, expected: latestOnDisk }, {
          'Retry-After': '5',
        });
      }
      return { status: 'ok' as const, migration: applied };
    },
  );
};
