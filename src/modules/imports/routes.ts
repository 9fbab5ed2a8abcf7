// CSV import routes: upload (multipart, one file part), status with progress, and the
// failing rows as CSV.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import multipart from '@fastify/multipart';
import { Type } from '@sinclair/typebox';
import { randomUUID } from 'node:crypto';
import { AppError } from '../../lib/app-error.js';
import { requireAuth } from '../../plugins/auth.js';
import { claimUploadIdempotencyKey, IdempotentReplay, sendReplay } from '../../plugins/idempotency.js';
import { requirePermission } from '../../plugins/permissions.js';
import { FIELDS, type Field } from './columns.js';
import { ContactImport, ImportParams } from './schemas.js';
import { getImport, importErrorReport } from './service.js';
import { inShop, readShop } from '../../plugins/shop-request.js';
import { multipartClientError } from './multipart-error.js';
import { receiveUpload } from './upload.js';
import type { ConsentState } from '../../db/database.js';

const CONSENTS = new Set(['subscribed', 'unsubscribed', 'never']);

function parseMapping(value: string): Partial<Record<Field, string>> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new AppError(400, 'INVALID_MAPPING', 'mapping must be a JSON object', { field: 'mapping' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.entries(parsed).every(([k, v]) => (FIELDS as readonly string[]).includes(k) && typeof v === 'string')) {
    throw new AppError(400, 'INVALID_MAPPING', `mapping keys must be among ${FIELDS.join(', ')} and values header names`, { field: 'mapping' });
  }
  return parsed as Partial<Record<Field, string>>;
}

function parseConsent(value: string): ConsentState {
  if (!CONSENTS.has(value)) throw new AppError(400, 'INVALID_CONSENT', 'consent must be subscribed, unsubscribed or never', { field: 'consent' });
  return value as ConsentState;
}

export const importRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { importMaxBytes, importMaxRows } = app.config;
  // Few parts, one file: a request cannot make the parser do much before it is refused.
  await app.register(multipart, { limits: { fileSize: importMaxBytes, files: 1, fields: 3, parts: 5, fieldSize: 4096, headerPairs: 100 } });
  const security = [{ bearerAuth: [] }];

  app.post(
    '/api/v1/contacts/imports',
    {
      preHandler: requirePermission('contacts.write'),
      config: { idempotent: true },
      schema: {
        tags: ['contacts'],
        summary: 'Upload a CSV of contacts (multipart/form-data: optional fields `mapping` (JSON {field: header}) and `consent`, then one `file` part)',
        description: `Streams to the database and returns 202 with the import id; a job applies it. Limits: ${importMaxBytes} bytes, ${importMaxRows} rows (413). 415 unless multipart; 400 for an empty file, no phone column, binary or non-UTF-8 text.`,
        security,
        consumes: ['multipart/form-data'],
        response: { 202: Type.Object({ id: Type.String({ format: 'uuid' }), status: Type.Literal('queued'), rows: Type.Integer(), bytes: Type.Integer() }, { additionalProperties: false }) },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart()) throw new AppError(415, 'UNSUPPORTED_MEDIA_TYPE', 'Send the file as multipart/form-data');
      // Fields must come before the file part; the file is streamed as it arrives.
      const readParts = async () => {
        let mapping: Partial<Record<Field, string>> = {};
        let consent: ConsentState = 'never';
        let received: { importId: string; bytes: number; rows: number } | null = null;
        for await (const part of request.parts()) {
          if (part.type === 'field') {
            if (received) throw new AppError(400, 'INVALID_MULTIPART', 'Fields must come before the file');
            const value = String(part.value);
            if (part.fieldname === 'mapping') mapping = parseMapping(value);
            else if (part.fieldname === 'consent') consent = parseConsent(value);
            else throw new AppError(400, 'UNKNOWN_FIELD', `Unknown field ${part.fieldname.slice(0, 40)}`);
            continue;
          }
          if (received) throw new AppError(400, 'INVALID_MULTIPART', 'Send exactly one file');
          const importId = randomUUID();
          const file = { file: part.file, fileName: part.filename, mapping, defaultConsent: consent };
          received = await inShop(request, async (tx, actor) => {
            const stored = await receiveUpload(tx, actor.shopId, importId, { ...file, userId: actor.userId! }, { maxBytes: importMaxBytes, maxRows: importMaxRows });
            // Last in the transaction: a refused key rolls the upload and its job back.
            await claimUploadIdempotencyKey(tx, request, { fields: { mapping, consent }, sha256: stored.sha256 });
            return stored;
          });
        }
        return received;
      };
      let result: Awaited<ReturnType<typeof readParts>>;
      try {
        result = await readParts();
      } catch (error) {
        if (error instanceof IdempotentReplay) return sendReplay(reply, error.stored);
        throw multipartClientError(error) ?? error;
      }
      if (!result) throw new AppError(400, 'NO_FILE', 'The request has no file part', { field: 'file' });
      return reply.code(202).send({ id: result.importId, status: 'queued', rows: result.rows, bytes: result.bytes });
    },
  );

  app.get(
    '/api/v1/contacts/imports/:id',
    { preHandler: requireAuth, schema: { tags: ['contacts'], summary: 'An import: status and progress', security, params: ImportParams, response: { 200: ContactImport } } },
    async (request) => readShop(request, (tx, actor) => getImport(tx, actor.shopId, request.params.id)),
  );

  app.get(
    '/api/v1/contacts/imports/:id/errors',
    {
      preHandler: requireAuth,
      schema: { tags: ['contacts'], summary: 'The rows that failed or were skipped: line number, reason and the phone masked to its last digits (text/csv)', security, params: ImportParams, produces: ['text/csv'] },
    },
    async (request, reply) => {
      const csv = await readShop(request, (tx, actor) => importErrorReport(tx, actor.shopId, request.params.id));
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="import-${request.params.id}-errors.csv"`);
      return csv;
    },
  );
};
