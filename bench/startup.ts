// Time from `npm start` to a ready API (GET /health/ready = 200), with an embedded Postgres:
// cold (empty data directory: initdb, roles, migrations) and warm (the same directory again).
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inheritedEnv } from '../src/config.js';
import { freePort } from '../test/helpers/free-port.js';

async function timeToReady(dataDir: string): Promise<number> {
  const port = await freePort();
  const started = Date.now();
  const child = spawn('npm', ['start', '--silent'], {
    env: inheritedEnv({ DATABASE_URL: '', PORT: String(port), EMBEDDED_PG_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), LOG_LEVEL: 'warn' }),
    stdio: ['ignore', 'ignore', 'inherit'],
    detached: true,
  });
  try {
    for (;;) {
      if (Date.now() - started > 180_000) throw new Error('not ready after 180 s');
      try {
        const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
        if (res.status === 200) return Date.now() - started;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    process.kill(-child.pid!, 'SIGTERM');
    await new Promise((r) => child.on('exit', r));
  }
}

const root = await mkdtemp(path.join(os.tmpdir(), 'pigeon-startup-'));
const dataDir = path.join(root, 'postgres');
try {
  const coldMs = await timeToReady(dataDir);
  const warmMs = await timeToReady(dataDir);
  console.log(JSON.stringify({ benchmark: 'startup', coldMs, warmMs }, null, 2));
} finally {
  await rm(root, { recursive: true, force: true });
}
