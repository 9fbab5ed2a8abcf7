// Is it quiet time for someone in this time zone? Quiet hours are a local-time window that
// may wrap midnight (21:00–08:00). Formatters are cached per zone: a batch of 500
// recipients in three zones builds three, not 500.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat | null {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    try {
      formatter = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    } catch {
      return null; // not an IANA zone this runtime knows
    }
    if (formatters.size > 1000) formatters.clear();
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Minutes since local midnight in `timeZone` at `at`, or null for an unknown zone. */
export function localMinutes(at: Date, timeZone: string): number | null {
  const formatter = formatterFor(timeZone);
  if (!formatter) return null;
  let hour = 0;
  let minute = 0;
  for (const part of formatter.formatToParts(at)) {
    if (part.type === 'hour') hour = Number(part.value);
    if (part.type === 'minute') minute = Number(part.value);
  }
  return hour * 60 + minute;
}

/** "21:00" or "21:00:00" → minutes since midnight. */
export function parseClock(value: string): number {
  const [h, m] = value.split(':');
  return Number(h) * 60 + Number(m);
}

/**
 * True when `at` falls in [start, end) local time in `timeZone`. start == end means no
 * quiet period. An unknown zone counts as quiet: better late than at 3 a.m.
 */
export function isQuietTime(at: Date, timeZone: string, start: string, end: string): boolean {
  const from = parseClock(start);
  const to = parseClock(end);
  if (from === to) return false;
  const now = localMinutes(at, timeZone);
  if (now === null) return true;
  return from < to ? now >= from && now < to : now >= from || now < to;
}
