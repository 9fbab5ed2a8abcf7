// One scenario: a fresh campaign to every contact, enqueued through the API, a fault
// injected while it sends, and the campaign watched until it reaches a final state or the
// deadline passes. A campaign still running at the deadline is reported as not finished
// and then cancelled through the API, so that it does not send during the next scenario.
import type { ApiClient } from './shop.js';
import type { ProcessSet, ExitRecord } from './processes.js';
import type { ProviderControl, ProviderCounts } from './provider.js';
import type { Observer } from './observer.js';
import type { FaultPostgres } from './postgres.js';
import { INJECTORS, SCENARIO_TITLES, type Injection, type ScenarioName } from './scenarios.js';

export interface ScenarioResult {
  scenario: ScenarioName;
  title: string;
  campaignId: string;
  recipients: number;
  injections: Injection[];
  /** Reached sent/failed within the deadline with nobody's help. */
  finished: boolean;
  finalStatus: string;
  /** Enqueue request → the campaign's finished_at. */
  timeToFinishS: number | null;
  /** finished_at − the last recipient update, and − the last message's sent_at. */
  finishLagS: { afterLastRecipientUpdate: number | null; afterLastMessage: number | null };
  provider: ProviderCounts;
  recipientsByStatus: Record<string, number>;
  messages: number;
  debits: { count: number; maxPerRecipient: number };
  wallet: { balance: number; reserved: number; ledgerBalance: number; ledgerReserved: number; equal: boolean };
  /** graphile-worker jobs of this campaign still in the table when it was measured. */
  jobsLeft: { queued: number; locked: number; failed: number; lastErrors: string[] };
  /** Every 5 s from the enqueue: recipients posted to the provider, messages recorded. Shows stalls. */
  progress: Array<[seconds: number, posted: number, messages: number]>;
  processExits: ExitRecord[];
  apisReadyAfter: boolean[];
  cancelledAfterDeadline: boolean;
  /** Processes that did not stop within 15 s of SIGTERM when the scenario was over. */
  sigkilledAtStop?: string[];
  injectorError?: string;
}

const FINAL = new Set(['sent', 'failed', 'cancelled']);
const seconds = (ms: number) => Number((ms / 1000).toFixed(1));

interface ScenarioContext {
  api: ApiClient;
  apiBases: string[];
  processes: ProcessSet;
  postgres: FaultPostgres;
  provider: ProviderControl;
  observer: Observer;
  recipients: number;
  deadlineS: number;
  outageSeconds: number;
  log: (msg: string) => void;
}

export async function runScenario(name: ScenarioName, ctx: ScenarioContext): Promise<ScenarioResult> {
  await ctx.api.login();
  const campaign = await ctx.api.must<{ id: string }>('POST', '/api/v1/campaigns', { name: `fault: ${name}`, body: 'Hi {{first_name}}, sale today!' });
  const exitsBefore = ctx.processes.exits.length;
  const enqueuedAt = Date.now();
  await ctx.api.must('POST', `/api/v1/campaigns/${campaign.id}/enqueue`);
  ctx.log(`${name}: campaign ${campaign.id} enqueued`);
  try {
    return await watch(name, ctx, campaign.id, enqueuedAt, exitsBefore);
  } catch (error) {
    // Whatever went wrong in the benchmark, the campaign must not send into the next scenario.
    await cancel(ctx.api, campaign.id);
    throw error;
  }
}

async function watch(name: ScenarioName, ctx: ScenarioContext, campaignId: string, enqueuedAt: number, exitsBefore: number): Promise<ScenarioResult> {
  const campaign = { id: campaignId };
  const deadline = enqueuedAt + ctx.deadlineS * 1000;
  let over = false;
  const injecting = INJECTORS[name]({
    campaignId: campaign.id,
    recipients: ctx.recipients,
    enqueuedAt,
    deadline,
    processes: ctx.processes,
    postgres: ctx.postgres,
    provider: ctx.provider,
    observer: ctx.observer,
    outageSeconds: ctx.outageSeconds,
    isOver: () => over,
  }).then(
    (injections) => ({ injections, error: undefined }),
    (error: unknown) => ({ injections: [] as Injection[], error: error instanceof Error ? error.message : String(error) }),
  );

  const progress: Array<[number, number, number]> = [];
  let nextSample = enqueuedAt;
  let status = 'queued';
  let finishedAt: Date | null = null;
  while (Date.now() < deadline) {
    const row = await ctx.observer.campaign(campaign.id);
    status = row.status;
    finishedAt = row.finished_at;
    if (Date.now() >= nextSample) {
      progress.push([seconds(Date.now() - enqueuedAt), (await ctx.provider.counts(campaign.id)).references, await ctx.observer.messagesSent(campaign.id)]);
      nextSample += 5000;
    }
    if (FINAL.has(status)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  over = true;
  const { injections, error } = await injecting;
  const finished = status === 'sent' || status === 'failed';
  ctx.log(`${name}: ${finished ? `finished (${status})` : `not finished at the deadline (${status})`}`);

  // Measured before the cancel, so that the counts are what the fault left behind.
  const outcome = await ctx.observer.outcome(await shopOf(ctx.observer, campaign.id), campaign.id);
  const provider = await ctx.provider.counts(campaign.id);
  const apisReadyAfter = await Promise.all(ctx.apiBases.map((base) => fetch(`${base}/health/ready`).then((r) => r.ok, () => false)));
  const processExits = ctx.processes.exits.slice(exitsBefore);

  let cancelledAfterDeadline = false;
  if (!FINAL.has(status)) cancelledAfterDeadline = await cancel(ctx.api, campaign.id);

  const lag = (from: Date | null) => (finishedAt && from ? seconds(finishedAt.getTime() - from.getTime()) : null);
  return {
    scenario: name,
    title: SCENARIO_TITLES[name],
    campaignId: campaign.id,
    recipients: ctx.recipients,
    injections,
    finished,
    finalStatus: status,
    timeToFinishS: finished && finishedAt ? seconds(finishedAt.getTime() - enqueuedAt) : null,
    finishLagS: { afterLastRecipientUpdate: lag(outcome.recipients.lastUpdate), afterLastMessage: lag(outcome.messages.lastSentAt) },
    provider,
    recipientsByStatus: outcome.recipients.byStatus,
    messages: outcome.messages.count,
    debits: outcome.debits,
    wallet: outcome.wallet,
    jobsLeft: outcome.jobsLeft,
    progress,
    processExits,
    apisReadyAfter,
    cancelledAfterDeadline,
    ...(error ? { injectorError: error } : {}),
  };
}

async function shopOf(observer: Observer, campaignId: string): Promise<string> {
  const rows = await observer.query<{ shop_id: string }>(`select shop_id from app.campaigns where id = $1`, [campaignId]);
  return rows[0]!.shop_id;
}

/** Cancels through the API; false when that did not work (the report says so). */
async function cancel(api: ApiClient, campaignId: string): Promise<boolean> {
  const answer = await api.request('POST', `/api/v1/campaigns/${campaignId}/cancel`).catch(() => ({ status: 0 }));
  return answer.status === 200;
}
