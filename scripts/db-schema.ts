// `npm run db:schema`: regenerate sql/schema.sql from a freshly migrated database.
import { writeFile } from 'node:fs/promises';
import pg from 'pg';
import { dumpSchema, SCHEMA_FILE } from '../src/db/schema-dump.js';
import { runMain, withMigratedDatabase } from './throwaway-database.js';

runMain(async () => {
  const text = await withMigratedDatabase(async (adminUrl) => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await dumpSchema(client);
    } finally {
      await client.end();
    }
  });
  await writeFile(SCHEMA_FILE, text);
  console.log(`wrote ${SCHEMA_FILE}`);
});
