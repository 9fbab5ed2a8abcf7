// The markdown table printed after the JSON: one row per scenario, with the pass rule of
// each column in its header.
import type { ScenarioResult } from './run-scenario.js';

const yesNo = (ok: boolean) => (ok ? 'yes' : '**no**');
const s = (v: number | null) => (v === null ? '–' : `${v} s`);

export function markdownTable(results: Array<ScenarioResult | { scenario: string; error: string }>, deadlineS: number): string {
  const lines = [
    `| scenario | faults injected | finished, no operator (≤ ${deadlineS} s) | time to finish | max POSTs per recipient (must be 1) | ledger = wallet | finished_at − last recipient update / last message | process exits (unexpected) |`,
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const r of results) {
    if ('error' in r) {
      lines.push(`| ${r.scenario} | run failed: ${r.error.replace(/\|/g, '\\|').slice(0, 200)} | | | | | | |`);
      continue;
    }
    const faults = r.injections.length
      ? r.injections.map((i) => `${i.what} @ ${i.atS} s`).join('; ')
      : r.scenario === 'baseline'
        ? 'none'
        : 'none (the campaign ended or stalled first)';
    const posts =
      r.provider.references === 0
        ? 'no POSTs'
        : `${r.provider.maxRaw}${r.provider.rawOver1 ? ` (${r.provider.rawOver1} recipients > 1${r.provider.maxAnswered !== r.provider.maxRaw ? `; ${r.provider.answeredOver1} > 1 not counting 503s, max ${r.provider.maxAnswered}` : ''})` : ''}; ${r.provider.references}/${r.recipients} posted`;
    const finished = r.finished
      ? 'yes'
      : `**no** (${r.finalStatus}; ${Object.entries(r.recipientsByStatus).map(([k, v]) => `${k} ${v}`).join(', ')}; ${r.jobsLeft.locked} of its jobs locked)`;
    const lag = r.finished ? `${s(r.finishLagS.afterLastRecipientUpdate)} / ${s(r.finishLagS.afterLastMessage)}` : '–';
    const unexpected = r.processExits.filter((e) => !e.expected);
    const exits =
      `${r.processExits.length} (${unexpected.length}${unexpected.length ? `: ${unexpected.map((e) => `${e.name} ${e.signal ?? `code ${e.code}`}`).join(', ')}` : ''})` +
      (r.sigkilledAtStop?.length ? `; SIGTERM ignored 15 s: ${r.sigkilledAtStop.join(', ')}` : '');
    lines.push(`| ${r.title} | ${faults} | ${finished} | ${s(r.timeToFinishS)} | ${posts} | ${yesNo(r.wallet.equal)} | ${lag} | ${exits} |`);
  }
  return lines.join('\n');
}
