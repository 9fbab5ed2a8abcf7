// The error catalogue (src/lib/error-codes.ts) is the one list of codes: every place that
// raises a code uses the catalogue's status for it, and API.md agrees with the catalogue
// wherever it names the status of a kind of error. (A code outside the catalogue does not
// compile: AppError takes an ErrorCode.)
import t from 'tap';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ERROR_CODES, type ErrorCode } from '../src/lib/error-codes.js';

const root = path.resolve(import.meta.dirname, '..');

t.test('every raised code has the catalogue’s status', async (t) => {
  const entries = await readdir(path.join(root, 'src'), { withFileTypes: true, recursive: true });
  const files = entries.filter((e) => e.isFile() && e.name.endsWith('.ts')).map((e) => path.join(e.parentPath, e.name));
  const patterns = [/new AppError\(\s*(\d{3}),\s*'([A-Z0-9_]+)'/g, /status:\s*(\d{3}),\s*code:\s*'([A-Z0-9_]+)'/g];
  let seen = 0;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    for (const pattern of patterns) {
      for (const [, status, code] of text.matchAll(pattern)) {
        seen++;
        const entry = ERROR_CODES[code as ErrorCode];
        t.ok(entry, `${path.relative(root, file)}: ${code} is in the catalogue`);
        if (entry) t.equal(Number(status), entry.status, `${path.relative(root, file)}: ${code} is ${entry.status}`);
      }
    }
  }
  t.ok(seen > 100, `the scan found the raise sites (${seen})`);
});

// API.md lives beside the repository (../shared), where the team's checkouts have it.
const API_MD = path.join(root, '..', 'shared', 'API.md');
const apiMdPresent = await readFile(API_MD, 'utf8').then(() => true, () => false);

t.test('API.md and the catalogue agree on the status of every kind of error API.md names', { skip: apiMdPresent ? false : `${API_MD} is not beside this checkout` }, async (t) => {
  const apiMd = (await readFile(API_MD, 'utf8')).replace(/\s+/g, ' ');
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    if (!('apiMd' in entry)) continue;
    t.ok(apiMd.includes(`${entry.status} ${entry.apiMd}`), `API.md says "${entry.status} ${entry.apiMd}" (${code})`);
  }
});

t.test('one status per code and a description for each', async (t) => {
  for (const [code, entry] of Object.entries(ERROR_CODES)) {
    t.match(code, /^[A-Z][A-Z0-9_]+$/);
    t.ok(entry.status >= 400 && entry.status < 600, `${code} is an error status`);
    t.ok(entry.description.length > 5, `${code} says what it means`);
  }
});
