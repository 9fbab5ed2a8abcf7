// sql/schema.sql is the schema after all migrations. It is committed so that a reviewer
// sees what a migration really changed; here it must equal what the migrations produce.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { dumpSchema, SCHEMA_FILE } from '../src/db/schema-dump.js';
import { createTestDatabase } from './helpers/database.js';

/** The first lines where two texts differ, with a little context, for the failure message. */
function firstDifference(expected: string, actual: string, context = 3): string {
  const a = expected.split('\n');
  const b = actual.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const from = Math.max(0, i - context);
  const show = (lines: string[], sign: string) => lines.slice(from, i + context).map((l, k) => `${from + k === i ? sign : ' '} ${l}`);
  return [`first difference at line ${i + 1}:`, '--- committed', ...show(a, '-'), '+++ from the migrations', ...show(b, '+')].join('\n');
}

// A copy of the migrated template (connecting to the template itself would block copies).
const db = await createTestDatabase(t);
const client = new pg.Client({ connectionString: db.adminUrl });
await client.connect();
t.teardown(() => client.end());
const { rows } = await client.query<{ v: number }>(`select current_setting('server_version_num')::int as v`);
// The text is the same on 15 and 17 (both checked); older servers deparse differently.
const unsupported = rows[0]!.v < 150000 ? `the server is Postgres ${rows[0]!.v}; the dump is compared on Postgres >= 15 only` : false;

t.test('sql/schema.sql is what the migrations produce (else: run npm run db:schema)', { skip: unsupported }, async (t) => {
  const actual = await dumpSchema(client);
  const committed = await readFile(SCHEMA_FILE, 'utf8').catch(() => '');
  if (actual === committed) {
    t.pass('sql/schema.sql is current');
    return;
  }
  t.fail('sql/schema.sql is stale or edited by hand: run `npm run db:schema` and commit the result', {
    difference: committed ? firstDifference(committed, actual) : `${SCHEMA_FILE} is missing`,
  });
});
