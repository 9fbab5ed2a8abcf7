// Workflow: the CSV export takes the pool, one read transaction per page, so a large
// audience streams as it is read (never the whole result in memory, no transaction held
// open while a slow client downloads); every cell is neutralised against formula injection.
import { sql, type SqlBool } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { readInShop, withShop } from '../../db/with-shop.js';
import type { Actor } from '../../lib/actor.js';
import { csvLine } from '../../lib/csv-safe.js';
import { afterCreatedAtId } from '../../lib/cursor.js';
import { audit } from '../audit/service.js';
import type { ContactExportQuery } from './schemas.js';

export const EXPORT_PAGE = 5000;
const HEADER = ['id', 'phone', 'email', 'first_name', 'last_name', 'tags', 'consent', 'time_zone', 'country', 'created_at'];

/**
 * Records the export in the audit log (committed before the first byte: a download cut
 * short is still recorded) and returns the CSV as it will be read.
 */
export async function exportContacts(db: Db, actor: Actor, filters: ContactExportQuery, pageSize = EXPORT_PAGE): Promise<AsyncGenerator<string>> {
  await withShop(db, actor.shopId, (tx) => audit(tx, actor, { action: 'contact.export', resourceType: 'contact', result: 'success', metadata: { filters } }), actor.userId ?? undefined);
  return csvPages(db, actor, filters, pageSize);
}

async function* csvPages(db: Db, actor: Actor, filters: ContactExportQuery, pageSize: number): AsyncGenerator<string> {
  const shopId = actor.shopId;
  yield csvLine(HEADER);
  let after: [string, string] | null = null;
  for (;;) {
    const cursor: [string, string] | null = after;
    const rows = await readInShop(
      db,
      shopId,
      (tx) => {
        let query = tx
          .selectFrom('app.contacts')
          .select(['id', 'phone_e164', 'email', 'first_name', 'last_name', 'tags', 'consent_state', 'time_zone', 'country', 'created_at'])
          .select(sql<string>`created_at::text`.as('created_at_text'))
          .where('shop_id', '=', shopId)
          .where('deleted_at', 'is', null)
          .orderBy('created_at')
          .orderBy('id')
          .limit(pageSize);
        if (filters.consent) query = query.where('consent_state', '=', filters.consent);
        if (filters.tag) query = query.where(sql<SqlBool>`tags @> array[${filters.tag.trim().toLowerCase()}]::text[]`);
        if (cursor) query = query.where(afterCreatedAtId(cursor, '>'));
        return query.execute();
      },
      actor.userId ?? undefined,
    );
    if (rows.length === 0) return;
    yield rows
      .map((r) => csvLine([r.id, r.phone_e164, r.email, r.first_name, r.last_name, r.tags.join(';'), r.consent_state, r.time_zone, r.country, new Date(r.created_at).toISOString()]))
      .join('');
    if (rows.length < pageSize) return;
    const last = rows[rows.length - 1]!;
    after = [last.created_at_text, last.id];
  }
}
