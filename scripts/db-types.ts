// `npm run db:types`: regenerate src/db/generated.ts from a freshly migrated database.
import { writeFile } from 'node:fs/promises';
import { generateTableTypes, TYPES_FILE } from './table-types.js';
import { runMain, withMigratedDatabase } from './throwaway-database.js';

runMain(async () => {
  const text = await withMigratedDatabase(generateTableTypes);
  await writeFile(TYPES_FILE, text);
  console.log(`wrote ${TYPES_FILE}`);
});
