// src/db/generated.ts (the Kysely table interfaces) must be what the migrations produce,
// and the override layer in src/db/database.ts may only narrow it.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import { generateTableTypes, TYPES_FILE } from '../scripts/table-types.js';
import type { Narrow } from '../src/db/database.js';
import type * as G from '../src/db/generated.js';
import { createTestDatabase } from './helpers/database.js';

t.test('src/db/generated.ts is what the migrations produce (else: run npm run db:types)', async (t) => {
  // A copy of the migrated template (connecting to the template itself would block copies).
  const db = await createTestDatabase(t);
  const actual = await generateTableTypes(db.adminUrl);
  const committed = await readFile(TYPES_FILE, 'utf8').catch(() => '');
  if (actual === committed) {
    t.pass('src/db/generated.ts is current');
    return;
  }
  const a = committed.split('\n');
  const b = actual.split('\n');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  t.fail('src/db/generated.ts is stale or edited by hand: run `npm run db:types`, commit it, and fix what no longer type-checks', {
    line: i + 1,
    committed: a.slice(Math.max(0, i - 2), i + 3).join('\n'),
    generated: b.slice(Math.max(0, i - 2), i + 3).join('\n'),
  });
});

// Checked by `npm run typecheck` (this file is in tsconfig): overrides only narrow.
export type Accepted = [
  Narrow<G.AppMessages, { encoding: 'GSM-7' | 'UCS-2' }>,
  Narrow<G.AppUsers, { locked_until: Date | null }>,
];
// @ts-expect-error a column the migrations do not have
export type Misspelt = Narrow<G.AppWallets, { balanse: string }>;
// @ts-expect-error a nullable column made NOT NULL by hand
export type NullabilityChanged = Narrow<G.AppContacts, { email: string }>;
// @ts-expect-error a NOT NULL column made nullable by hand
export type NullAdded = Narrow<G.AppMessages, { segments: number | null }>;
// @ts-expect-error a wider type than the column's
export type Widened = Narrow<G.AppMessages, { segments: number | string }>;
