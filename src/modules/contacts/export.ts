// CSV export: pages of live contacts by key, streamed as they are read (never the whole
// result in memory), every cell neutralised against formula injection.
import { sql, type SqlBool } from 'kysely';
import type { ConsentState } from '../../db/database.js';
import type { Db } from '../../db/kysely.js';
import { readInShop } from '../../db/with-shop.js';
import { csvLine } from '../../lib/csv-safe.js';
import { afterCreatedAtId } from '../../lib/cursor.js';

export const EXPORT_PAGE = 5000;
const HEADER = ['id', 'phone', 'email', 'first_name', 'last_name', 'tags', 'consent', 'time_zone', 'country', 'created_at'];

export async function* exportContacts(db: Db, shopId: string, userId: string, filters: { consent?: ConsentState | undefined; tag?: string | undefined }, pageSize = EXPORT_PAGE): AsyncGenerator<string> {
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
      userId,
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
