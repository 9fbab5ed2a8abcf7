// One Kysely instance per process role (pigeon_api or pigeon_worker), on a pg pool.
import { Kysely } from 'kysely';
import pg from 'pg';
import type { Database } from './database.js';
import { TenantContextDialect } from './tenant-driver.js';

export type Db = Kysely<Database>;

export interface CreateDbOptions {
  connectionString: string;
  poolSize: number;
  applicationName: string;
  /** Server-side limit so a runaway statement cannot hold a connection forever. */
  statementTimeoutMs?: number;
  /**
   * pg's pipeline mode: queries queued on a client are sent without waiting for the previous
   * answer. Used by the API pool so a transaction's start travels with its first statement.
   * Not for graphile-worker's pool (it holds LISTEN connections and its own query patterns).
   */
  pipeline?: boolean;
  /** An idle pooled connection died (server restart, failover); the pool replaces it. */
  onIdleClientError?: (error: Error) => void;
}

export function createPool(options: CreateDbOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.poolSize,
    application_name: options.applicationName,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    statement_timeout: options.statementTimeoutMs ?? 30_000,
    // pg >= 8.23; not yet in @types/pg.
    ...({ pipeline: options.pipeline === true } as object),
  });
  // Without a listener, pg re-emits an idle client's error on the pool and the process dies.
  const onError = options.onIdleClientError ?? (() => {});
  pool.on('error', onError);
  // A checked-out client whose connection dies also emits 'error'; its query rejects anyway.
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}

export function createDb(pool: pg.Pool): Db {
  const pipelined = (pool.options as { pipeline?: boolean }).pipeline === true;
  return new Kysely<Database>({ dialect: new TenantContextDialect({ pool, pipelineTransactionStart: pipelined }) });
}
