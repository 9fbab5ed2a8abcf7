// Parses and applies one CSV import, resuming after its checkpoint. See src/modules/imports/process.ts.
import type { Task } from 'graphile-worker';
import { Type } from '@sinclair/typebox';
import { loadConfig } from '../src/config.js';
import { parsePayload, ShopPayload, UuidString } from '../src/lib/job-payload.js';
import { processImport } from '../src/modules/imports/process.js';
import { workerDb } from '../src/worker-context.js';

const Payload = Type.Composite([ShopPayload, Type.Object({ importId: UuidString })]);

const contact_import: Task = async (payload, helpers) => {
  const { shopId, importId } = parsePayload('contact_import', Payload, payload);
  const outcome = await processImport(workerDb(), shopId, importId, { maxRows: loadConfig().importMaxRows });
  helpers.logger.info(`contact import ${importId}: ${outcome.state}`);
};

export default contact_import;
