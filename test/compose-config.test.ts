// compose.yaml passes every setting README's configuration table documents: an operator who
// sets one in .env must not find it silently ignored by the containers.
import { readFile } from 'node:fs/promises';
import t from 'tap';

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
const compose = await readFile(new URL('../compose.yaml', import.meta.url), 'utf8');

/** Not for containers: the embedded Postgres of `npm start` and a test-suite switch. */
const NOT_FOR_COMPOSE = new Set(['EMBEDDED_PG_PORT', 'EMBEDDED_PG_DIR', 'PIGEON_TEST_KEEP_DATABASES']);
/** Fixed by compose itself (per service), not taken from .env. */
const FIXED_BY_COMPOSE = new Set(['NODE_ENV', 'DATABASE_URL', 'HOST', 'PORT']);

function readmeVariables(): string[] {
  const section = readme.split('### Environment variables')[1]?.split('\n## ')[0] ?? '';
  const names = new Set<string>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const firstCell = line.split('|')[1] ?? '';
    for (const match of firstCell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)) names.add(match[1]!);
  }
  return [...names];
}

t.test("every variable of README's configuration table is passed by compose.yaml", async (t) => {
  const variables = readmeVariables();
  t.ok(variables.length > 40, `the table was found (${variables.length} variables)`);
  const missing: string[] = [];
  const notFromEnv: string[] = [];
  for (const name of variables) {
    if (NOT_FOR_COMPOSE.has(name)) continue;
    const entry = new RegExp(`^\\s+${name}:\\s*(.*)$`, 'm').exec(compose);
    if (!entry) {
      missing.push(name);
      continue;
    }
    // Taken from the environment, with a default (${NAME:-…}) or a required value (${NAME:?…}).
    if (!FIXED_BY_COMPOSE.has(name) && !new RegExp(`\\$\\{${name}:[-?]`).test(entry[1]!)) notFromEnv.push(name);
  }
  t.same(missing, [], 'no README variable is missing from compose.yaml');
  t.same(notFromEnv, [], 'each is read from the environment');
});
