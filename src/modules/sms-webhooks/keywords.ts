// What an inbound text means. Carriers and the CTIA handbook expect these opt-out and
// opt-in words to work whatever the case, spacing or trailing punctuation.
export type Keyword = 'stop' | 'start' | 'help' | 'other';

const STOP = new Set(['STOP', 'STOPALL', 'STOP ALL', 'UNSUBSCRIBE', 'CANCEL', 'END', 'QUIT', 'OPTOUT', 'OPT OUT', 'OPT-OUT', 'REVOKE', 'STOP2END', 'ARRET']);
const START = new Set(['START', 'UNSTOP', 'YES', 'SUBSCRIBE', 'OPTIN', 'OPT IN', 'OPT-IN', 'RESUME']);
const HELP = new Set(['HELP', 'INFO', 'AIDE']);

export function keywordOf(text: string): Keyword {
  const word = text.normalize('NFKC').trim().replace(/[\s.!?,;:'"()]+$/g, '').replace(/^[\s.!?,;:'"()]+/g, '').replace(/\s+/g, ' ').toUpperCase();
  if (STOP.has(word)) return 'stop';
  if (START.has(word)) return 'start';
  if (HELP.has(word)) return 'help';
  return 'other';
}
