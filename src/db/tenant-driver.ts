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

class TenantContextDriver extends PostgresDriver {
  override async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const context = tenantContextStorage.getStore();
    const setContext = context ? tenantContextSql(context) : '';
    let begin = 'begin';
    if (settings.isolationLevel) begin += ` isolation level ${settings.isolationLevel}`;
    if (settings.accessMode) begin += ` ${settings.accessMode}`;
    // One round trip: a multi-statement simple query (no parameters) runs BEGIN and
    // set_config(..., true) together; the setting dies with the transaction.
    await connection.executeQuery(CompiledQuery.raw(setContext ? `${begin}; ${setContext}` : begin));
  }
}

export class TenantContextDialect extends PostgresDialect {
  readonly #config: PostgresDialectConfig;
  constructor(config: PostgresDialectConfig) {
    super(config);
    this.#config = config;
  }
  override createDriver(): Driver {
    return new TenantContextDriver(this.#config);
  }
}
