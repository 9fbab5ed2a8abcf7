// The configuration is declared once (SETTINGS in src/config.ts); README's table of
// environment variables must list exactly those variables, and each must be wired.
import t from 'tap';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Kind } from '@sinclair/typebox';
import { loadConfig, SETTINGS, TEST_VARIABLES } from '../src/config.js';

const README = path.resolve(import.meta.dirname, '../README.md');

/** The variables named in the first column of README's "### Environment variables" table. */
async function readmeVariables(): Promise<string[]> {
  const text = await readFile(README, 'utf8');
  const start = text.indexOf('### Environment variables');
  if (start < 0) throw new Error('README.md has no "### Environment variables" section');
  const rest = text.slice(start);
  const next = rest.slice(1).search(/\n#{1,3} /);
  const section = next < 0 ? rest : rest.slice(0, next + 1);
  const names: string[] = [];
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line.split('|')[1] ?? '';
    for (const m of firstCell.matchAll(/`([^`]+)`/g)) names.push(m[1]!);
  }
  return names;
}

t.test("README's configuration table and the config's variables agree", async (t) => {
  const documented = await readmeVariables();
  t.ok(documented.length > 10, 'the table was found and parsed');
  const declared = [...Object.keys(SETTINGS), ...TEST_VARIABLES.documented];
  const notInConfig = documented.filter((v) => !declared.includes(v));
  const notInReadme = declared.filter((v) => !documented.includes(v));
  t.same(notInConfig, [], 'every variable in README is read by src/config.ts (remove the row, or add it to SETTINGS)');
  t.same(notInReadme, [], 'every variable src/config.ts reads has a README row (add one under "### Environment variables")');
  t.same(documented.filter((v, i) => documented.indexOf(v) !== i), [], 'no variable has two rows');
});

t.test('every integer setting is read from its own variable and named when invalid', async (t) => {
  for (const [variable, s] of Object.entries(SETTINGS)) {
    if (s.schema[Kind] !== 'Integer') continue;
    t.throws(() => loadConfig({ [variable]: '-2000000000' }), { message: new RegExp(`^${variable} is invalid`) }, variable);
  }
});
