// Opaque list cursors: the sort key of the last item, base64url JSON. Opaque to clients,
// validated on the way back in (a tampered cursor is a 400, never a SQL error).
import { sql, type RawBuilder, type SqlBool } from 'kysely';
import { AppError } from './app-error.js';

export function encodeCursor(parts: Array<string | number>): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

export function decodeCursor(cursor: string, shape: Array<'string' | 'number'>): Array<string | number> {
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(parts) && parts.length === shape.length && parts.every((p, i) => typeof p === shape[i])) return parts as Array<string | number>;
  } catch {
    // fall through
  }
  throw new AppError(400, 'INVALID_CURSOR', 'The cursor is not valid', { field: 'querystring.cursor' });
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The keyset condition for lists ordered by (created_at, id): rows after the cursor's key
 * ('>' ascending, '<' descending). The key's parts are checked first: a tampered cursor is
 * a 400, never a SQL error. created_at travels as Postgres text (microseconds kept).
 */
export function afterCreatedAtId(key: readonly [string, string], direction: '>' | '<'): RawBuilder<SqlBool> {
  const [createdAt, id] = key;
  if (!UUID.test(id) || Number.isNaN(Date.parse(createdAt))) throw new AppError(400, 'INVALID_CURSOR', 'The cursor is not valid', { field: 'querystring.cursor' });
  return sql<SqlBool>`(created_at, id) ${sql.raw(direction)} (${createdAt}::timestamptz, ${id}::uuid)`;
}
