// Retention for imports: an import older than the shop's retention loses its error rows
// (line, reason, masked phone) and any upload chunks still there (the CSV itself: chunks
// normally go when the import finishes, but an import that never finished keeps them). An
// import still queued or running at that age will not finish: it is marked failed, so a
// late retry finds it finished instead of an empty upload. The import row (counters, file
// name) stays.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';

export interface ImportSweep {
  errorRows: number;
  chunks: number;
  expired: number;
}

export async function sweepImportsBefore(tx: Tx, shopId: string, cutoff: Date): Promise<ImportSweep> {
  const old = (qb: Tx) => qb.selectFrom('app.contact_imports').select('id').where('shop_id', '=', shopId).where('created_at', '<', cutoff);
  const expired = await tx
    .updateTable('app.contact_imports')
    .set({ status: 'failed', error: 'expired: the upload was deleted by the retention policy', finished_at: sql`now()` as never })
    .where('shop_id', '=', shopId)
    .where('created_at', '<', cutoff)
    .where('status', 'in', ['queued', 'running'])
    .executeTakeFirst();
  const errorRows = await tx.deleteFrom('app.contact_import_errors').where('shop_id', '=', shopId).where('import_id', 'in', old(tx)).executeTakeFirst();
  const chunks = await tx.deleteFrom('app.contact_import_chunks').where('shop_id', '=', shopId).where('import_id', 'in', old(tx)).executeTakeFirst();
  return { errorRows: Number(errorRows.numDeletedRows), chunks: Number(chunks.numDeletedRows), expired: Number(expired.numUpdatedRows) };
}
