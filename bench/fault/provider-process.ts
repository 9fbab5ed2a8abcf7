// The fake SMS provider for the fault benchmark, in its own process (as bench:send runs it),
// with two things the development CLI (src/providers/sms/fake-server-cli.ts) does not have:
//  - a counter at the wire: every POST /v1/messages is counted per clientReference, with the
//    status it was answered. The fake provider answers a repeated clientReference
//    idempotently, so its own maps cannot tell one request from three; a real provider
//    without that courtesy would have sent three messages.
//  - a control API: outage on/off, and the counts for a campaign.
// It listens on one port: /control/* is handled here, everything else is passed unchanged
// to startFakeSmsProvider's server on an internal port.
// Usage (spawned by bench/fault.ts): tsx bench/fault/provider-process.ts --port P --latency MS
// with SMS_PROVIDER_API_KEY in the environment. Prints "listening" when ready.
import http from 'node:http';
import { startFakeSmsProvider } from '../../src/providers/sms/fake-server.js';

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const apiKey = process.env.SMS_PROVIDER_API_KEY;
if (!apiKey) throw new Error('SMS_PROVIDER_API_KEY is required');

const fake = await startFakeSmsProvider({ port: 0, apiKey, latencyMs: Number(arg('latency') ?? 0) });
const upstream = new URL(fake.url);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });

/** Per clientReference: every POST, and those the provider answered other than 503 (it was up). */
const posts = new Map<string, { raw: number; answered: number }>();
let outageSince: number | null = null;

function count(reference: string, status: number) {
  let entry = posts.get(reference);
  if (!entry) posts.set(reference, (entry = { raw: 0, answered: 0 }));
  entry.raw++;
  if (status !== 503) entry.answered++;
}

/** Summary for references starting with `prefix` (a campaign id followed by ':'). */
function summary(prefix: string) {
  let references = 0;
  let rawPosts = 0;
  let maxRaw = 0;
  let maxAnswered = 0;
  let rawOver1 = 0;
  let answeredOver1 = 0;
  for (const [reference, entry] of posts) {
    if (!reference.startsWith(prefix)) continue;
    references++;
    rawPosts += entry.raw;
    maxRaw = Math.max(maxRaw, entry.raw);
    maxAnswered = Math.max(maxAnswered, entry.answered);
    if (entry.raw > 1) rawOver1++;
    if (entry.answered > 1) answeredOver1++;
  }
  return { references, rawPosts, maxRaw, maxAnswered, rawOver1, answeredOver1 };
}

function json(res: http.ServerResponse, status: number, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
}

function control(req: http.IncomingMessage, res: http.ServerResponse, url: URL) {
  if (req.method === 'POST' && url.pathname === '/control/outage') {
    const on = url.searchParams.get('on') === 'true';
    fake.setOutage(on);
    outageSince = on ? Date.now() : null;
    return json(res, 200, { outage: on });
  }
  if (req.method === 'GET' && url.pathname === '/control/counts') {
    return json(res, 200, summary(url.searchParams.get('prefix') ?? ''));
  }
  if (req.method === 'GET' && url.pathname === '/control/state') {
    return json(res, 200, { outage: outageSince !== null, requests: fake.requestCount, sent: fake.sentCount });
  }
  return json(res, 404, { error: 'unknown control route' });
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  if (url.pathname.startsWith('/control/')) return control(req, res, url);
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    let reference: string | null = null;
    if (req.method === 'POST' && url.pathname === '/v1/messages') {
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { clientReference?: unknown };
        if (typeof parsed.clientReference === 'string') reference = parsed.clientReference;
      } catch {
        // passed on as is: the fake provider answers 400
      }
    }
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host }, agent },
      (answer) => {
        if (reference !== null) count(reference, answer.statusCode ?? 0);
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => {
      if (reference !== null) count(reference, 502);
      if (!res.headersSent) json(res, 502, { error: { code: 'proxy' } });
    });
    forward.end(body);
  });
});
server.keepAliveTimeout = 30_000;
server.listen(Number(arg('port') ?? 0), '127.0.0.1', () => console.log('listening'));

const stop = () => {
  server.close();
  server.closeAllConnections();
  void fake.close().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
