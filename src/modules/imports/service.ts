// Reading an import: its status and progress, and the report of its failing rows.
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { csvLine } from '../../lib/csv-safe.js';
import { listRowErrors } from './errors.js';
import type { ContactImport } from './schemas.js';

const notFound = () => new AppError(404, 'NOT_FOUND', 'Import not found');

export async function getImport(tx: Tx, shopId: string, id: string): Promise<ContactImport> {
  const row = await tx.selectFrom('app.contact_imports').selectAll().where('shop_id', '=', shopId).where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound();
  return {
    id: row.id,
    status: row.status,
    fileName: row.file_name,
    bytes: Number(row.bytes),
    rowsTotal: row.rows_total,
    rowsRead: row.rows_read,
    inserted: row.inserted,
    updated: row.updated,
    skipped: row.skipped,
    failed: row.failed,
    error: row.error,
    createdAt: new Date(row.created_at).toISOString(),
    finishedAt: row.finished_at ? new Date(row.finished_at).toISOString() : null,
  };
}

/** The failing rows as CSV: line, reason and the phone masked to its last digits. */
export async function importErrorReport(tx: Tx, shopId: string, id: string): Promise<string> {
  const found = await tx.selectFrom('app.contact_imports').select('id').where('shop_id', '=', shopId).where('id', '=', id).executeTakeFirst();
  if (!found) throw notFound();
  const rows = await listRowErrors(tx, shopId, id);
  return csvLine(['line', 'reason', 'phone']) + rows.map((r) => csvLine([r.line, r.reason, r.phone_masked])).join('');
}
