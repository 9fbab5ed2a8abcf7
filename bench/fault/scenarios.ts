// The faults, each injected into a running campaign once a share of its recipients has
// reached the provider (so the fault lands mid-campaign, not before the first batch or after the last).
// An injector never waits past the scenario's deadline, and never repairs what the fault
// broke: recovering is the system's job, and whether it does is what the report shows.
import type { FaultPostgres } from './postgres.js';
import type { ProcessSet } from './processes.js';
import type { ProviderControl } from './provider.js';
import type { Observer } from './observer.js';

export const SCENARIOS = ['kill', 'pgrestart', 'outage', 'baseline'] as const;
/** What runs when no list is given; `baseline` (no fault) is there to compare times with. */
export const DEFAULT_SCENARIOS: ScenarioName[] = ['kill', 'pgrestart', 'outage'];
export type ScenarioName = (typeof SCENARIOS)[number];

export const SCENARIO_TITLES: Record<ScenarioName, string> = {
  kill: 'kill -9 a worker ×3',
  pgrestart: 'Postgres restart (immediate)',
  outage: 'provider outage',
  baseline: 'no fault (baseline)',
};

export interface Injection {
  what: string;
  /** Seconds since the enqueue request. */
  atS: number;
  /** Recipients that had reached the provider when the fault was injected. */
  postedBefore: number;
  detail?: Record<string, unknown>;
}

export interface InjectorContext {
  campaignId: string;
  recipients: number;
  enqueuedAt: number;
  deadline: number;
  processes: ProcessSet;
  postgres: FaultPostgres;
  provider: ProviderControl;
  observer: Observer;
  outageSeconds: number;
  /** Set once the campaign reached a final state: injectors stop waiting. */
  isOver(): boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const since = (ctx: InjectorContext) => Number(((Date.now() - ctx.enqueuedAt) / 1000).toFixed(1));

/**
 * Waits until `share` of the recipients have reached the provider; the count, or null if
 * the campaign ended or the deadline came first. Counted at the provider, not from the
 * messages table: a batch writes its 500 messages in one transaction at its end, so the
 * table moves in steps of 500 and lags what is in flight.
 */
async function whenPosted(ctx: InjectorContext, share: number): Promise<number | null> {
  const target = Math.ceil(ctx.recipients * share);
  while (!ctx.isOver() && Date.now() < ctx.deadline) {
    const { references } = await ctx.provider.counts(ctx.campaignId);
    if (references >= target) return references;
    await sleep(100);
  }
  return null;
}

/** (a) SIGKILL one of the two workers at 20%, 45% and 70% posted; a replacement starts right after each. */
async function killWorkers(ctx: InjectorContext): Promise<Injection[]> {
  const done: Injection[] = [];
  for (const share of [0.2, 0.45, 0.7]) {
    const postedBefore = await whenPosted(ctx, share);
    if (postedBefore === null) break;
    // The oldest worker: after the first round it is the one that has not been killed yet.
    const victim = ctx.processes.running('worker')[0];
    if (!victim) break;
    const pid = ctx.processes.pid(victim);
    await ctx.processes.kill9(victim);
    const atS = since(ctx);
    const replacement = await ctx.processes.startWorker();
    done.push({ what: `kill -9 ${victim}`, atS, postedBefore, detail: { pid, replacement, replacementReadyAfterS: Number((since(ctx) - atS).toFixed(1)) } });
  }
  return done;
}

/** (b) `pg_ctl restart -m immediate` at 30% posted; the API and worker processes are left alone. */
async function restartPostgres(ctx: InjectorContext): Promise<Injection[]> {
  const postedBefore = await whenPosted(ctx, 0.3);
  if (postedBefore === null) return [];
  const atS = since(ctx);
  const started = Date.now();
  await ctx.postgres.restartImmediate();
  return [{ what: 'pg_ctl restart -m immediate', atS, postedBefore, detail: { restartTookS: Number(((Date.now() - started) / 1000).toFixed(1)) } }];
}

/** (c) The provider answers 503 to everything for `outageSeconds`, from 30% posted. */
async function providerOutage(ctx: InjectorContext): Promise<Injection[]> {
  const postedBefore = await whenPosted(ctx, 0.3);
  if (postedBefore === null) return [];
  const atS = since(ctx);
  await ctx.provider.setOutage(true);
  try {
    await sleep(Math.max(0, Math.min(ctx.outageSeconds * 1000, ctx.deadline - Date.now())));
  } finally {
    await ctx.provider.setOutage(false);
  }
  return [{ what: `provider 503 for ${ctx.outageSeconds} s`, atS, postedBefore, detail: { endedAtS: since(ctx) } }];
}

export const INJECTORS: Record<ScenarioName, (ctx: InjectorContext) => Promise<Injection[]>> = {
  kill: killWorkers,
  pgrestart: restartPostgres,
  outage: providerOutage,
  baseline: async () => [],
};
