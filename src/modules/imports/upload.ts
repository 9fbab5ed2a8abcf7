// Receiving a CSV upload: streamed into 1 MiB chunk rows inside the caller's transaction,
// checked on the way (size, line count, NUL bytes, UTF-8, a header with a phone column),
// then the import row and its job. Any refusal throws and the transaction rolls back:
// nothing half-done. The client's file name is kept for display only, never as a path.
import { createHash } from 'node:crypto';
import Papa from 'papaparse';
import type { Readable } from 'node:stream';
import { addShopJob } from '../../jobs/catalogue.js';
import type { ConsentState } from '../../db/database.js';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { resolveColumns, type Field } from './columns.js';

const CHUNK_BYTES = 1024 * 1024;
const MAX_HEADER_BYTES = 64 * 1024;

export interface UploadLimits {
  maxBytes: number;
  maxRows: number;
}

export interface UploadInput {
  file: Readable;
  fileName: string | undefined;
  mapping: Partial<Record<Field, string>>;
  defaultConsent: ConsentState;
  userId: string;
}

/** Shown in the UI only: no path, no control characters, bounded. */
export function displayName(name: string | undefined): string | null {
  if (!name) return null;
  const base = name.split(/[\\/]/).pop() ?? '';
  const clean = base.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, 255);
  return clean.length > 0 ? clean : null;
}

export async function receiveUpload(tx: Tx, shopId: string, importId: string, input: UploadInput, limits: UploadLimits) {
  // The import row first: the chunks reference it (all in this transaction).
  await tx
    .insertInto('app.contact_imports')
    .values({ shop_id: shopId, id: importId, file_name: displayName(input.fileName), bytes: 0, mapping: JSON.stringify(input.mapping), default_consent: input.defaultConsent, created_by: input.userId })
    .execute();

  const decoder = new TextDecoder('utf-8', { fatal: true });
  // The file's identity for Idempotency-Key: its bytes, not its length (two files of one size differ).
  const sha256 = createHash('sha256');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let seq = 0;
  let bytes = 0;
  let newlines = 0;
  let header: string | null = null;
  let headText = '';
  let lastByte = -1;

  const flush = async () => {
    if (pendingBytes === 0) return;
    await tx.insertInto('app.contact_import_chunks').values({ shop_id: shopId, import_id: importId, seq: seq++, data: Buffer.concat(pending) }).execute();
    pending = [];
    pendingBytes = 0;
  };

  try {
    for await (const chunk of input.file as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      sha256.update(chunk);
      if (bytes > limits.maxBytes) throw new AppError(413, 'FILE_TOO_LARGE', `The file is larger than ${limits.maxBytes} bytes`);
      if (chunk.includes(0)) throw new AppError(400, 'BINARY_FILE', 'The file is not text (it contains NUL bytes)');
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        throw new AppError(400, 'INVALID_ENCODING', 'The file is not valid UTF-8 text');
      }
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) newlines++;
      if (newlines > limits.maxRows + 1) throw new AppError(413, 'TOO_MANY_ROWS', `The file has more than ${limits.maxRows} rows`);
      if (header === null) {
        headText += text;
        const end = headText.search(/\r?\n/);
        if (end >= 0) header = headText.slice(0, end);
        else if (headText.length > MAX_HEADER_BYTES) throw new AppError(400, 'INVALID_HEADER', 'The header line is too long');
      }
      lastByte = chunk[chunk.length - 1] ?? lastByte;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= CHUNK_BYTES) await flush();
    }
    try {
      decoder.decode();
    } catch {
      throw new AppError(400, 'INVALID_ENCODING', 'The file is not valid UTF-8 text');
    }
  } catch (error) {
    // @fastify/multipart stops the stream at its own size limit.
    if ((error as { code?: string }).code === 'FST_REQ_FILE_TOO_LARGE') throw new AppError(413, 'FILE_TOO_LARGE', `The file is larger than ${limits.maxBytes} bytes`);
    throw error;
  }
  // @fastify/multipart ends a file at its size limit and marks it truncated.
  if ((input.file as Readable & { truncated?: boolean }).truncated) throw new AppError(413, 'FILE_TOO_LARGE', `The file is larger than ${limits.maxBytes} bytes`);
  if (header === null) header = headText;
  await flush();

  const dataLines = newlines + (lastByte === 10 || bytes === 0 ? 0 : 1) - 1;
  if (bytes === 0 || header.trim() === '') throw new AppError(400, 'EMPTY_FILE', 'The file is empty');
  if (dataLines < 1) throw new AppError(400, 'EMPTY_FILE', 'The file has a header but no rows');
  const headers = (Papa.parse<string[]>(header.replace(/^\uFEFF/, ''), { header: false }).data[0] ?? []).map(String);
  const columns = resolveColumns(headers, input.mapping);
  if (columns.phone === undefined) throw new AppError(400, 'NO_PHONE_COLUMN', 'No column holds phone numbers (name it "phone" or send a mapping)', { headers });

  await tx.updateTable('app.contact_imports').set({ rows_total: dataLines, bytes } as never).where('shop_id', '=', shopId).where('id', '=', importId).execute();
  // One import at a time per shop (a named queue is scoped to the shop): two imports of
  // one audience would contend for the same contacts' locks, and the worker's memory per
  // import (its duplicate set grows with the file) is then bounded by its concurrency.
  await addShopJob(tx, 'contact_import', { shopId, importId });
  return { importId, bytes, rows: dataLines, sha256: sha256.digest('hex') };
}
