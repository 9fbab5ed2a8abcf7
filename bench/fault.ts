// Fault benchmark: does a campaign still finish, exactly once per recipient, with the
// wallet matching its ledger, when a worker is SIGKILLed, when Postgres restarts, or when
// the SMS provider is down for a minute? Everything runs as real processes: its own
// Postgres (restartable), the fake provider behind a counting proxy, two API processes and
// two worker processes started as `start:api` / `start:worker` start them, in production
// mode with generated secrets. Each scenario sends a fresh campaign to every contact.
// Prints JSON, then a markdown table. Removes every process and the data directory at the
// end, also on failure and ctrl-C.
// Usage: npm run bench:fault -- [recipients=20000] [scenarios=kill,pgrestart,outage]
// (`baseline`, a campaign with no fault, can be added to the list for comparison.)
// Environment: FAULT_DEADLINE_S (600) per scenario, FAULT_OUTAGE_S (60),
// FAULT_PROVIDER_LATENCY_MS (100) and FAULT_SMS_CONCURRENCY (8), which pace the campaign
// so that the faults land mid-campaign, FAULT_WORKER_CONCURRENCY (4), FAULT_KEEP_LOGS=1
// to keep the processes' logs.
import { randomBytes } from 'node:crypto';
import { cp, mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepareLocalDatabase } from '../src/db/local-database.js';
import { freePort } from '../test/helpers/free-port.js';
import { benchEnv, type BenchDatabase } from './local-cluster.js';
import { Observer } from './fault/observer.js';
import { startFaultPostgres, type FaultPostgres } from './fault/postgres.js';
import { ProcessSet } from './fault/processes.js';
import { ProviderControl } from './fault/provider.js';
import { markdownTable } from './fault/report.js';
import { runScenario, type ScenarioResult } from './fault/run-scenario.js';
import { DEFAULT_SCENARIOS, SCENARIOS, type ScenarioName } from './fault/scenarios.js';
import { ApiClient, seedShop } from './fault/shop.js';

const RECIPIENTS = Number(process.argv[2] ?? 20_000);
const SCENARIO_LIST = (process.argv[3] ?? DEFAULT_SCENARIOS.join(',')).split(',').map((s) => s.trim()) as ScenarioName[];
for (const s of SCENARIO_LIST) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario "${s}" (known: ${SCENARIOS.join(', ')})`);
const DEADLINE_S = Number(process.env.FAULT_DEADLINE_S ?? 600);
const OUTAGE_S = Number(process.env.FAULT_OUTAGE_S ?? 60);
const LATENCY_MS = Number(process.env.FAULT_PROVIDER_LATENCY_MS ?? 100);
const SMS_CONCURRENCY = process.env.FAULT_SMS_CONCURRENCY ?? '8';
const WORKER_CONCURRENCY = process.env.FAULT_WORKER_CONCURRENCY ?? '4';

const rootDir = path.join(os.tmpdir(), `pigeon-bench-fault-${process.pid}`);
const log = (msg: string) => process.stderr.write(`[bench:fault ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

// Everything started is registered here, so that any way out stops it.
let postgres: FaultPostgres | undefined;
let provider: ProviderControl | undefined;
let processes: ProcessSet | undefined;
let observer: Observer | undefined;
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    processes?.killAllNow();
    provider?.stop();
    await observer?.end().catch(() => {});
    if (process.env.FAULT_KEEP_LOGS) {
      const kept = path.resolve('.data', `bench-fault-logs-${process.pid}`);
      await cp(path.join(rootDir, 'logs'), kept, { recursive: true }).catch(() => {});
      log(`logs kept in ${kept}`);
    }
    await postgres?.destroy().catch(() => {});
    await rm(rootDir, { recursive: true, force: true });
  })();
  return cleaning;
}
// `on`, not `once`: ctrl-C reaches this process twice (from the terminal to the whole process
// group, and relayed by tsx's wrapper), and a second signal with no listener would end the
// process in the middle of its cleanup.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (cleaning) return;
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  await mkdir(path.join(rootDir, 'logs'), { recursive: true });
  const secret = () => randomBytes(32).toString('base64url');
  log(`starting Postgres in ${rootDir}`);
  postgres = await startFaultPostgres({ rootDir: path.join(rootDir, 'pg'), port: await freePort(), superuserPassword: secret() });
  const urls = await prepareLocalDatabase(postgres.superuserUrl, 'pigeon', { owner: secret(), api: secret(), worker: secret() });
  const superuser = new URL(postgres.superuserUrl);
  superuser.pathname = '/pigeon';
  const database: BenchDatabase = { ...urls, superuser: superuser.toString(), close: async () => {} };
  observer = new Observer(database.superuser);

  const apiKey = secret();
  provider = await ProviderControl.start({ port: await freePort(), apiKey, latencyMs: LATENCY_MS });
  const apiPorts = [await freePort(), await freePort()];
  // One environment for both roles, as one deployment's: the same secrets in every process.
  const shared = benchEnv(database, {
    HOST: '127.0.0.1',
    ACCESS_TOKEN_TTL_SECONDS: '3600',
    SMS_PROVIDER_URL: provider.url,
    SMS_PROVIDER_API_KEY: apiKey,
    SMS_WEBHOOK_SECRET: secret(),
    SMS_SEND_CONCURRENCY: SMS_CONCURRENCY,
    WORKER_CONCURRENCY,
  });
  processes = new ProcessSet({
    logDir: path.join(rootDir, 'logs'),
    apiPorts,
    // The worker logs at info so that its "worker started" line says it is ready.
    env: (role) => (role === 'api' ? { ...shared, DATABASE_URL: database.api } : { ...shared, DATABASE_URL: database.worker, LOG_LEVEL: 'info' }),
  });
  /** Returns the processes that ignored SIGTERM for 15 s (a finding of the scenario before). */
  const freshProcesses = async () => {
    const forced = await processes!.stopAll();
    await Promise.all([processes!.startApi(0), processes!.startApi(1), processes!.startWorker(), processes!.startWorker()]);
    return forced;
  };
  await freshProcesses();
  const apiBases = apiPorts.map((p) => `http://127.0.0.1:${p}`);
  const api = new ApiClient(apiBases);
  const shopId = await seedShop({ api, superuserUrl: database.superuser, workerUrl: database.worker, contacts: RECIPIENTS, credits: RECIPIENTS * 10 * SCENARIO_LIST.length });
  log(`shop ${shopId}: ${RECIPIENTS} subscribed contacts, credits added`);

  const results: Array<ScenarioResult | { scenario: string; error: string }> = [];
  for (const [i, name] of SCENARIO_LIST.entries()) {
    // Every scenario starts from a healthy set of processes: what one fault left behind
    // (a worker idling since the restart) must not count against the next.
    if (i > 0) noteForcedStops(results.at(-1), await freshProcesses());
    log(`${name}: starting (deadline ${DEADLINE_S} s)`);
    try {
      results.push(
        await runScenario(name, { api, apiBases, processes, postgres, provider, observer, recipients: RECIPIENTS, deadlineS: DEADLINE_S, outageSeconds: OUTAGE_S, log }),
      );
    } catch (error) {
      results.push({ scenario: name, error: error instanceof Error ? error.message : String(error) });
      log(`${name}: failed: ${error instanceof Error ? error.stack : String(error)}`);
    }
  }
  noteForcedStops(results.at(-1), await processes.stopAll());

  console.log(
    JSON.stringify(
      {
        benchmark: 'fault',
        recipients: RECIPIENTS,
        deadlineS: DEADLINE_S,
        outageS: OUTAGE_S,
        providerLatencyMs: LATENCY_MS,
        smsConcurrencyPerBatch: Number(SMS_CONCURRENCY),
        workerConcurrency: Number(WORKER_CONCURRENCY),
        processes: '2 API + 2 worker',
        scenarios: results,
      },
      null,
      2,
    ),
  );
  console.log(`\n${markdownTable(results, DEADLINE_S)}`);
}

/** Processes that had to be SIGKILLed when the scenario's processes were stopped. */
function noteForcedStops(result: ScenarioResult | { scenario: string; error: string } | undefined, forced: string[]): void {
  if (result && !('error' in result)) result.sigkilledAtStop = forced;
}

try {
  await main();
} catch (error) {
  log(`failed: ${error instanceof Error ? error.stack : String(error)}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
