// The API and worker processes of the fault benchmark, started as `npm run start:api` /
// `start:worker` start them (the scripts' node flags, without npm's and tsx's wrapper
// processes, so that a SIGKILL hits the process doing the work, as in bench/import.ts).
// Every exit is recorded. An exit the benchmark did not cause is a finding: it is
// recorded first, then the process is started again (as a process manager would), so the
// report shows it and the run can still go on.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { inheritedEnv } from '../../src/config.js';

export type Role = 'api' | 'worker';

export interface ExitRecord {
  name: string;
  role: Role;
  pid: number;
  code: number | null;
  signal: string | null;
  at: string;
  /** true: the benchmark killed or stopped it. false: it died on its own (a finding). */
  expected: boolean;
  /** The end of its output, for the unexpected ones. */
  outputTail?: string;
  /** The process started in its place after an unexpected exit. */
  replacedBy?: string;
}

interface Managed {
  name: string;
  role: Role;
  child: ChildProcess;
  exited: Promise<void>;
  expectExit: boolean;
  tail: string;
  log: WriteStream;
}

const TAIL_BYTES = 3000;

export class ProcessSet {
  readonly exits: ExitRecord[] = [];
  private readonly live = new Map<string, Managed>();
  private serial = 0;
  private closing = false;
  private readonly pendingRestarts = new Set<NodeJS.Timeout>();
  private scripts: Record<string, string> | undefined;

  constructor(
    private readonly options: {
      logDir: string;
      /** Environment per role (DATABASE_URL differs; PORT is set per API process). */
      env: (role: Role) => Record<string, string>;
      apiPorts: number[];
    },
  ) {}

  /** Names of the processes running now, by role. */
  running(role: Role): string[] {
    return [...this.live.values()].filter((m) => m.role === role).map((m) => m.name);
  }

  pid(name: string): number | undefined {
    return this.live.get(name)?.child.pid;
  }

  async startApi(index: number): Promise<string> {
    const port = this.options.apiPorts[index]!;
    const name = `api-${index + 1}`;
    await this.spawnRole(name, 'api', { PORT: String(port) });
    await waitFor(async () => this.alive(name) && (await fetch(`http://127.0.0.1:${port}/health/live`).then((r) => r.ok, () => false)), 60_000, `${name} did not answer /health/live`);
    return name;
  }

  async startWorker(): Promise<string> {
    const name = `worker-${++this.serial}`;
    const managed = await this.spawnRole(name, 'worker', {});
    // The worker logs "worker started" (info) once graphile-worker runs.
    await waitFor(async () => this.alive(name) && managed.tail.includes('worker started'), 60_000, `${name} did not start`);
    return name;
  }

  /** SIGKILL, as the OOM killer or a lost host would: no shutdown code runs. */
  async kill9(name: string): Promise<void> {
    const managed = this.live.get(name);
    if (!managed) throw new Error(`${name} is not running`);
    managed.expectExit = true;
    managed.child.kill('SIGKILL');
    await managed.exited;
  }

  /**
   * Graceful stop of everything (SIGTERM, then SIGKILL after 15 s); no restarts while
   * stopping. Returns the processes that needed the SIGKILL: a worker should stop within
   * seconds once its running jobs are done.
   */
  async stopAll(): Promise<string[]> {
    this.closing = true;
    for (const timer of this.pendingRestarts) clearTimeout(timer);
    this.pendingRestarts.clear();
    const all = [...this.live.values()];
    const forced: string[] = [];
    for (const m of all) {
      m.expectExit = true;
      m.child.kill('SIGTERM');
    }
    await Promise.all(
      all.map(async (m) => {
        const timer = setTimeout(() => {
          forced.push(m.name);
          m.child.kill('SIGKILL');
        }, 15_000);
        await m.exited;
        clearTimeout(timer);
      }),
    );
    this.closing = false;
    return forced;
  }

  /** Last resort (ctrl-C, a crash of the benchmark): SIGKILL every process it started, by pid. */
  killAllNow(): void {
    this.closing = true;
    for (const timer of this.pendingRestarts) clearTimeout(timer);
    for (const m of this.live.values()) m.child.kill('SIGKILL');
  }

  /** Throws when the process has already exited: no use waiting for it to be ready. */
  private alive(name: string): boolean {
    if (!this.live.has(name)) throw new Error(`${name} exited before it was ready`);
    return true;
  }

  private async spawnRole(name: string, role: Role, extra: Record<string, string>): Promise<Managed> {
    this.scripts ??= (JSON.parse(await readFile('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    const script = role === 'api' ? 'start:api' : 'start:worker';
    const [tsx, ...args] = this.scripts[script]!.split(/\s+/);
    if (tsx !== 'tsx') throw new Error(`${script} no longer starts with tsx: update bench/fault/processes.ts`);
    const child = spawn(process.execPath, ['--import=tsx', ...args], {
      env: inheritedEnv({ ...this.options.env(role), ...extra }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = createWriteStream(path.join(this.options.logDir, `${name}.log`), { flags: 'a' });
    const managed: Managed = { name, role, child, exited: Promise.resolve(), expectExit: false, tail: '', log };
    const onOutput = (d: Buffer) => {
      log.write(d);
      managed.tail = (managed.tail + d.toString()).slice(-TAIL_BYTES);
    };
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
    managed.exited = new Promise<void>((resolve) =>
      child.on('exit', (code, signal) => {
        this.live.delete(name);
        log.end();
        const record: ExitRecord = {
          name,
          role,
          pid: child.pid ?? -1,
          code,
          signal,
          at: new Date().toISOString(),
          expected: managed.expectExit,
          ...(managed.expectExit ? {} : { outputTail: managed.tail.slice(-1500) }),
        };
        this.exits.push(record);
        resolve();
        if (!managed.expectExit && !this.closing) this.replace(managed, record);
      }),
    );
    this.live.set(name, managed);
    return managed;
  }

  /**
   * After an unexpected exit (already recorded): start the same role again a second later,
   * as a process manager would. A replacement that dies too is recorded and replaced in turn.
   */
  private replace(dead: Managed, record: ExitRecord): void {
    const timer = setTimeout(() => {
      this.pendingRestarts.delete(timer);
      const restart = dead.role === 'worker' ? this.startWorker() : this.startApi(Number(dead.name.split('-')[1]) - 1);
      restart.then(
        (name) => (record.replacedBy = name),
        () => {}, // the replacement's own exit is recorded (and replaced) by its exit handler
      );
    }, 1000);
    this.pendingRestarts.add(timer);
  }
}

export async function waitFor(check: () => Promise<boolean>, timeoutMs: number, message: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(message);
    await new Promise((r) => setTimeout(r, 200));
  }
}
