// Parses and applies one CSV import, resuming after its checkpoint. See src/modules/imports/process.ts.
import type { Task } from 'graphile-worker';
import { loadConfig } from '../src/config.js';
import { parseJob } from '../src/jobs/catalogue.js';
import { processImport } from '../src/modules/imports/process.js';
import { workerDb } from '../src/worker-context.js';

const contact_import: Task = async (payload, helpers) => {
  const { shopId, importId } = parseJob('contact_import', payload);
  const outcome = await processImport(workerDb(), shopId, importId, { maxRows: loadConfig().importMaxRows });
  helpers.logger.info(`contact import ${importId}: ${outcome.state}`);
};

export default contact_import;
