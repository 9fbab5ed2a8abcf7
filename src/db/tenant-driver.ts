// A Kysely Postgres dialect whose transactions start already scoped to a tenant.
import {
  CompiledQuery,
  PostgresDialect,
  PostgresDriver,
  type DatabaseConnection,
  type Driver,
  type PostgresDialectConfig,
  type TransactionSettings,
} from 'kysely';
import { tenantContextSql, tenantContextStorage } from './tenant-context.js';

export interface TenantContextDialectConfig extends PostgresDialectConfig {
  /**
   * The pool's clients run in pg's pipeline mode: BEGIN + set_config is sent without
   * waiting, so it travels with the transaction's first statement (one round trip fewer).
   */
  pipelineTransactionStart?: boolean;
}

// BEGIN + set_config sent but not yet confirmed, per connection (pipeline mode only).
const pendingStarts = new WeakMap<DatabaseConnection, Promise<unknown>>();
// Connections whose current transaction is READ ONLY (pipeline mode only).
const readOnlyTransactions = new WeakSet<DatabaseConnection>();

class TenantContextDriver extends PostgresDriver {
  constructor(private readonly pipelined: boolean, config: PostgresDialectConfig) {
    super(config);
  }

  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const context = tenantContextStorage.getStore();
    const setContext = context ? tenantContextSql(context) : '';
    let begin = 'begin';
    if (settings.isolationLevel) begin += ` isolation level ${settings.isolationLevel}`;
    if (settings.accessMode) begin += ` ${settings.accessMode}`;
    // A multi-statement simple query (no parameters) runs BEGIN and set_config(..., true)
    // together; the setting dies with the transaction.
    const started = connection.executeQuery(CompiledQuery.raw(setContext ? `${begin}; ${setContext}` : begin));
    if (!this.pipelined) {
      await started;
      return;
    }
    // Pipelined: the first statement is queued right behind it on the same connection and
    // Postgres runs them in order. If the start failed, statements see no tenant (RLS
    // matches nothing) and the commit below fails, so Kysely rolls back and rethrows.
    started.catch(() => {});
    pendingStarts.set(connection, started);
    if (settings.accessMode === 'read only') readOnlyTransactions.add(connection);
  }

  override async commitTransaction(connection: DatabaseConnection): Promise<void> {
    const started = pendingStarts.get(connection);
    if (started) {
      pendingStarts.delete(connection);
      await started;
    }
    if (readOnlyTransactions.delete(connection)) {
      // A READ ONLY transaction (Postgres refuses any write in it, functions included) has
      // nothing to lose at COMMIT: its reads came from a snapshot that is already complete.
      // So the COMMIT is queued without waiting for its answer and the connection goes back
      // to the pool at once; in pipeline mode the next transaction's BEGIN queues behind it
      // on the same connection, and Postgres runs them in order. One round trip fewer.
      connection.executeQuery(CompiledQuery.raw('commit')).catch(() => {});
      return;
    }
    await super.commitTransaction(connection);
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    readOnlyTransactions.delete(connection);
    const started = pendingStarts.get(connection);
    if (started) {
      pendingStarts.delete(connection);
      await started.catch(() => {});
    }
    await super.rollbackTransaction(connection);
  }
}

export class TenantContextDialect extends PostgresDialect {
  readonly #config: TenantContextDialectConfig;
  constructor(config: TenantContextDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new TenantContextDriver(this.#config.pipelineTransactionStart === true, this.#config);
  }
}
