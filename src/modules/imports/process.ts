// The import job: reads the upload's chunks one at a time, parses them with papaparse's
// streaming parser, validates each row and applies rows in batches. Each batch commits
// with the import's counters and checkpoint (the last line it covered); a retry skips
// every line up to the checkpoint (re-reading them only to remember their phone numbers,
// so duplicates across the restart are still reported). Nothing is applied twice, nothing
// is lost. Consent from an import has source `import` and never re-subscribes an
// unsubscribed contact.
import { randomUUID } from 'node:crypto';
import Papa from 'papaparse';
import { sql } from 'kysely';
import type { ConsentState } from '../../db/database.js';
import type { Db } from '../../db/kysely.js';
import { readInShop, withShop, type Tx } from '../../db/with-shop.js';
import { upsertContacts, type ContactUpsertRow } from '../contacts/bulk-upsert.js';
import { buildLink } from '../contacts/consent.js';
import { normalizeTags } from '../contacts/service.js';
import { parsePhone } from '../contacts/phone.js';
import { maskPhone } from '../../lib/phone-mask.js';
import { parseConsentCell, resolveColumns, type ColumnMap, type Field } from './columns.js';
import { insertRowErrors, type RowError } from './errors.js';

export const IMPORT_BATCH_SIZE = 5000;
const YIELD_EVERY_ROWS = 250;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}\.[^\s@]{1,63}$/;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/g;

interface ValidRow extends ContactUpsertRow {
  line: number;
}

async function* chunks(db: Db, shopId: string, importId: string): AsyncGenerator<Buffer> {
  for (let seq = 0; ; seq++) {
    const row = await readInShop(db, shopId, (tx) =>
      tx.selectFrom('app.contact_import_chunks').select('data').where('shop_id', '=', shopId).where('import_id', '=', importId).where('seq', '=', seq).executeTakeFirst(),
    );
    if (!row) return;
    yield row.data;
  }
}

/**
 * CSV records from byte chunks. Each chunk is cut after its last line break that lies
 * outside quotes (an even number of `"` before it: RFC 4180 doubles quotes inside
 * fields), parsed synchronously by papaparse, and the rest carried into the next chunk.
 * Papaparse's Node stream mode does the same work about ten times slower here.
 */
async function* records(source: AsyncIterable<Buffer>): AsyncGenerator<string[]> {
  const decoder = new TextDecoder('utf-8');
  let carry = '';
  const parse = (text: string) => Papa.parse<string[]>(text, { header: false, skipEmptyLines: 'greedy' }).data;
  for await (const chunk of source) {
    const text = carry + decoder.decode(chunk, { stream: true });
    let quotes = 0;
    let cut = -1;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 34) quotes++;
      else if (c === 10 && quotes % 2 === 0) cut = i;
    }
    carry = text.slice(cut + 1);
    if (cut >= 0) yield* parse(text.slice(0, cut + 1));
  }
  const rest = carry + decoder.decode();
  if (rest.trim().length > 0) yield* parse(rest);
}

const cell = (row: string[], columns: ColumnMap, field: Field) => {
  const index = columns[field];
  if (index === undefined) return null;
  const value = (row[index] ?? '').trim();
  return value.length > 0 ? value : null;
};

const rowError = (line: number, reason: string, phoneCell: string | null, phone: string | null): RowError => ({
  line,
  reason,
  phoneMasked: maskPhone(phone ?? phoneCell),
  phone,
});

export async function processImport(db: Db, shopId: string, importId: string, opts: { batchSize?: number; maxRows?: number; afterBatch?: (n: number) => Promise<void> } = {}) {
  const batchSize = opts.batchSize ?? IMPORT_BATCH_SIZE;
  const started = await withShop(db, shopId, async (tx) => {
    const row = await tx
      .selectFrom('app.contact_imports')
      .select(['status', 'mapping', 'default_consent', 'checkpoint_line'])
      .where('shop_id', '=', shopId)
      .where('id', '=', importId)
      .forUpdate()
      .executeTakeFirst();
    if (!row || row.status === 'completed' || row.status === 'failed') return null;
    await tx.updateTable('app.contact_imports').set({ status: 'running', started_at: sql`coalesce(started_at, now())` as never }).where('shop_id', '=', shopId).where('id', '=', importId).execute();
    return row;
  });
  if (!started) return { state: 'already_finished' as const };
  const region = (await readInShop(db, shopId, (tx) => tx.selectFrom('app.shop_settings').select('default_region').where('shop_id', '=', shopId).executeTakeFirst()))?.default_region ?? 'US';


  // E.164 digits as numbers (at most 15 digits: exact in a double): a million of them is a
  // few tens of MB, strings would be several times that.
  const seen = new Set<number>();
  const key = (e164: string) => Number(e164.slice(1));
  let columns: ColumnMap | null = null;
  let line = 0;
  let batch: ValidRow[] = [];
  let batchTime = new Date(); // consent_updated_at and the first links' time, per batch
  let errors: RowError[] = [];
  let read = 0;
  let batches = 0;
  const checkpoint = started.checkpoint_line;

  // One batch is applied while the next is parsed: the database and the parser each get a
  // core instead of taking turns (bench:import). Batches still commit one after another, in
  // file order, so the checkpoint only ever moves past lines that are applied.
  let inFlight: Promise<void> | null = null;
  const apply = async (rows: ValidRow[], rowErrors: RowError[], rowsRead: number, occurredAt: Date, lastLine: number) => {
    // The rows, their errors, the counters and the checkpoint commit together.
    await withShop(db, shopId, async (tx) => {
      const counts = await upsertContacts(tx, shopId, rows, occurredAt);
      // After the batch, so that a duplicate of a contact this batch created is linked to it.
      if (rowErrors.length > 0) await insertRowErrors(tx, shopId, importId, rowErrors);
      await sql`update app.contact_imports
                   set rows_read = rows_read + ${rowsRead}, inserted = inserted + ${counts.inserted}, updated = updated + ${counts.updated},
                       skipped = skipped + ${rowErrors.filter((e) => e.reason.startsWith('duplicate')).length},
                       failed = failed + ${rowErrors.filter((e) => !e.reason.startsWith('duplicate')).length},
                       checkpoint_line = ${lastLine}
                 where shop_id = ${shopId} and id = ${importId} and checkpoint_line < ${lastLine}`.execute(tx);
    });
    await opts.afterBatch?.(++batches);
  };
  const commit = async (lastLine: number) => {
    const next = [batch, errors, read, batchTime] as const;
    batch = []; // the next batch's time is taken at its first row
    errors = [];
    read = 0;
    if (inFlight) await inFlight; // its failure stops the import here, before anything later
    inFlight = apply(...next, lastLine);
    // Handled here so that a failure is not reported as unhandled before it is awaited.
    inFlight.catch(() => {});
  };
  const drain = async () => {
    if (inFlight) await inFlight;
    inFlight = null;
  };

  try {
    for await (const record of records(chunks(db, shopId, importId))) {
      line++;
      // Let the batch being applied move on: its replies wait for this loop otherwise (the
      // records come synchronously, so without this nothing else runs for a whole chunk).
      if (inFlight && line % YIELD_EVERY_ROWS === 0) await new Promise((resolve) => setImmediate(resolve));
      if (!columns) {
        columns = resolveColumns(record.map((h, i) => (i === 0 ? h.replace(/^\uFEFF/, '') : h)), started.mapping as Partial<Record<Field, string>>);
        continue;
      }
      if (opts.maxRows && line - 1 > opts.maxRows) throw new Error(`more than ${opts.maxRows} rows`);
      const phoneCell = cell(record, columns, 'phone');
      const phone = phoneCell ? parsePhone(phoneCell, region) : null;
      if (line <= checkpoint) {
        if (phone) seen.add(key(phone.e164));
        continue;
      }
      read++;
      if (!phone) {
        errors.push(rowError(line, phoneCell ? 'invalid phone number' : 'missing phone number', phoneCell, null));
      } else if (seen.has(key(phone.e164))) {
        errors.push(rowError(line, 'duplicate phone in file', phoneCell, phone.e164));
      } else {
        const email = cell(record, columns, 'email');
        if (email && (email.length > 320 || !EMAIL.test(email))) {
          errors.push(rowError(line, 'invalid email', phoneCell, phone.e164));
        } else {
          seen.add(key(phone.e164));
          if (batch.length === 0) batchTime = new Date();
          const id = randomUUID();
          const consent = parseConsentCell(cell(record, columns, 'consent') ?? undefined);
          // Cells are stored as the text they are: a "=cmd()" name is a name, neutralised on export.
          batch.push({
            line,
            id,
            firstLink: buildLink(
              { shopId, contactId: id, state: consent ?? started.default_consent, previousState: null, source: 'import', actor: { kind: 'system' }, phone: phone.e164 },
              null,
              batchTime,
            ),
            phone: phone.e164,
            country: phone.country,
            email,
            firstName: cell(record, columns, 'first_name')?.slice(0, 100) ?? null,
            lastName: cell(record, columns, 'last_name')?.slice(0, 100) ?? null,
            // Control characters are never part of a tag; dropping them frees \x1f to join
            // a row's tags into one text value for the batch insert.
            tags: normalizeTags((cell(record, columns, 'tags') ?? '').replace(CONTROL_CHARS, '').split(/[,;|]/))
              .slice(0, 50)
              .map((t) => t.slice(0, 64)),
            consent,
            timeZone: cell(record, columns, 'time_zone')?.slice(0, 64) ?? null,
          });
        }
      }
      if (batch.length + errors.length >= batchSize) await commit(line);
    }
    if (batch.length + errors.length > 0 || read > 0) await commit(line);
    await drain();
  } catch (error) {
    // Never leave a batch being applied behind a finished (or failing) job.
    const applyError = await drain().then(
      () => null,
      (e: unknown) => e,
    );
    if (applyError) throw applyError;
    if (error instanceof Error && error.message.startsWith('more than')) {
      await finish(db, shopId, importId, 'failed', error.message);
      return { state: 'failed' as const };
    }
    throw error;
  }
  await finish(db, shopId, importId, 'completed', null);
  return { state: 'completed' as const };
}

async function finish(db: Db, shopId: string, importId: string, status: 'completed' | 'failed', error: string | null) {
  await withShop(db, shopId, async (tx) => {
    await tx.updateTable('app.contact_imports').set({ status, error, finished_at: new Date() }).where('shop_id', '=', shopId).where('id', '=', importId).execute();
    // The upload has served its purpose; the error report stays.
    await tx.deleteFrom('app.contact_import_chunks').where('shop_id', '=', shopId).where('import_id', '=', importId).execute();
  });
}

/**
 * One batch: new contacts inserted with their first consent link, existing ones updated.
 * The insert skips phones the shop already has (its unique index answers that, so a fresh
 * import costs no separate lookup); those rows are then locked and updated.
 */
type Link = ReturnType<typeof buildLink>;
