// A fake SMS provider: a real HTTP server on 127.0.0.1 speaking the protocol of client.ts,
// for tests, development and benchmarks. Switches: latency, a share of 5xx errors, a full
// outage, numbers that fail. Optional signed delivery reports to a URL, and signed inbound
// messages on demand. No per-request logging: it must keep up with thousands of requests
// per second on two cores.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { signSmsWebhook } from '../../lib/sms-webhook-signature.js';
import { smsParts } from '../../lib/sms-encoding.js';

export interface FakeMessage {
  id: string;
  to: string;
  from: string;
  body: string;
  clientReference: string;
  status: string;
  segments: number;
}

export interface FakeSmsProviderOptions {
  port?: number;
  apiKey: string;
  webhookSecret?: string;
  latencyMs?: number;
  /** Share of POSTs answered 503, 0..1. */
  errorRate?: number;
  outage?: boolean;
  /** Numbers the provider refuses at send time (400 invalid_number). */
  rejectNumbers?: Set<string>;
  /** Numbers whose delivery report says failed. */
  failNumbers?: Set<string>;
  deliveryReportUrl?: string;
  inboundUrl?: string;
  dlrDelayMs?: number;
}

export interface FakeSmsProvider {
  url: string;
  messages: Map<string, FakeMessage>;
  /** POST /v1/messages requests per client reference, replays included (a retry storm shows here). */
  postsByReference: Map<string, number>;
  /** Numbers bought through the number API: provider id → E.164. */
  ownedNumbers: Map<string, string>;
  /** Messages actually sent (a replayed client reference does not count). */
  readonly sentCount: number;
  readonly requestCount: number;
  setLatency(ms: number): void;
  setErrorRate(rate: number): void;
  setOutage(on: boolean): void;
  sendInbound(from: string, to: string, text: string, eventId?: string): Promise<number>;
  close(): Promise<void>;
}

/** The request body (events, not an async iterator: cheaper per request). */
function readBody(req: IncomingMessage): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(chunks));
    req.on('error', reject);
  });
}

export async function startFakeSmsProvider(options: FakeSmsProviderOptions): Promise<FakeSmsProvider> {
  const messages = new Map<string, FakeMessage>();
  const byReference = new Map<string, FakeMessage>();
  const postsByReference = new Map<string, number>();
  const ownedNumbers = new Map<string, string>();
  let numberSeq = 0;
  let latency = options.latencyMs ?? 0;
  let errorRate = options.errorRate ?? 0;
  let outage = options.outage ?? false;
  let sentCount = 0;
  let requestCount = 0;
  const pendingReports = new Set<NodeJS.Timeout>();

  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  };

  async function postSigned(url: string, body: unknown): Promise<number> {
    const raw = JSON.stringify(body);
    const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...signSmsWebhook(raw, options.webhookSecret ?? '') }, body: raw });
    await response.body?.cancel();
    return response.status;
  }

  function scheduleReport(message: FakeMessage) {
    if (!options.deliveryReportUrl || !options.webhookSecret) return;
    const failed = options.failNumbers?.has(message.to) ?? false;
    const timer = setTimeout(() => {
      pendingReports.delete(timer);
      message.status = failed ? 'failed' : 'delivered';
      postSigned(options.deliveryReportUrl!, {
        eventId: randomUUID(),
        messageId: message.id,
        clientReference: message.clientReference,
        status: message.status,
        ...(failed ? { errorCode: 'unreachable' } : {}),
        occurredAt: new Date().toISOString(),
      }).catch(() => {});
    }, options.dlrDelayMs ?? 10);
    pendingReports.add(timer);
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    requestCount++;
    if (latency > 0) await new Promise((r) => setTimeout(r, latency));
    if (req.headers.authorization !== `Bearer ${options.apiKey}`) return send(res, 401, { error: { code: 'unauthorized', message: 'bad api key' } });
    if (outage) return send(res, 503, { error: { code: 'unavailable', message: 'outage' } });
    // Split by hand: a URL object per request is a measurable share of this server's CPU.
    const [pathname, search = ''] = (req.url ?? '/').split('?', 2) as [string, string?];
    if (req.method === 'GET' && pathname === '/v1/messages') {
      const found = byReference.get(new URLSearchParams(search).get('clientReference') ?? '');
      return found ? send(res, 200, { id: found.id, status: found.status, clientReference: found.clientReference, segments: found.segments }) : send(res, 404, { error: { code: 'not_found' } });
    }
    if (pathname.startsWith('/v1/numbers')) return handleNumbers(req, res, pathname, search);
    if (req.method !== 'POST' || pathname !== '/v1/messages') return send(res, 404, { error: { code: 'not_found' } });
    if (errorRate > 0 && Math.random() < errorRate) return send(res, 503, { error: { code: 'unavailable', message: 'try again' } });
    const chunks = await readBody(req);
    let body: { to?: unknown; from?: unknown; body?: unknown; clientReference?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return send(res, 400, { error: { code: 'invalid_json' } });
    }
    if (typeof body.to !== 'string' || !/^\+[1-9]\d{6,14}$/.test(body.to) || options.rejectNumbers?.has(body.to)) return send(res, 400, { error: { code: 'invalid_number', message: 'invalid destination' } });
    if (typeof body.body !== 'string' || typeof body.clientReference !== 'string' || body.clientReference.length > 64) return send(res, 400, { error: { code: 'invalid_request' } });
    postsByReference.set(body.clientReference, (postsByReference.get(body.clientReference) ?? 0) + 1);
    const earlier = byReference.get(body.clientReference);
    if (earlier) return send(res, 200, { id: earlier.id, status: earlier.status, clientReference: earlier.clientReference, segments: earlier.segments });
    const message: FakeMessage = { id: `SM${randomUUID().replace(/-/g, '')}`, to: body.to, from: String(body.from ?? ''), body: body.body, clientReference: body.clientReference, status: 'queued', segments: smsParts(body.body).segments };
    messages.set(message.id, message);
    byReference.set(message.clientReference, message);
    sentCount++;
    scheduleReport(message);
    return send(res, 201, { id: message.id, status: message.status, clientReference: message.clientReference, segments: message.segments });
  }

  /** The number API: search, buy, give back. Numbers for sale are +1 555 01x xxxx. */
  async function handleNumbers(req: IncomingMessage, res: ServerResponse, pathname: string, search: string) {
    const owned = new Set(ownedNumbers.values());
    if (req.method === 'GET' && pathname === '/v1/numbers/available') {
      if (new URLSearchParams(search).get('country') !== 'US') return send(res, 200, { numbers: [] });
      const numbers: string[] = [];
      for (let i = numberSeq; numbers.length < 5; i++) {
        const candidate = `+1555010${String(i % 10_000).padStart(4, '0')}`;
        if (!owned.has(candidate)) numbers.push(candidate);
      }
      return send(res, 200, { numbers });
    }
    if (req.method === 'POST' && pathname === '/v1/numbers') {
      let body: { number?: unknown };
      try {
        body = JSON.parse(Buffer.concat(await readBody(req)).toString('utf8'));
      } catch {
        return send(res, 400, { error: { code: 'invalid_json' } });
      }
      if (typeof body.number !== 'string' || !/^\+[1-9]\d{6,14}$/.test(body.number)) return send(res, 400, { error: { code: 'invalid_number' } });
      if (owned.has(body.number)) return send(res, 409, { error: { code: 'number_unavailable' } });
      const id = `PN${randomUUID().replace(/-/g, '')}`;
      ownedNumbers.set(id, body.number);
      numberSeq++;
      return send(res, 201, { id, number: body.number });
    }
    const release = /^\/v1\/numbers\/([A-Za-z0-9]+)$/.exec(pathname);
    if (req.method === 'DELETE' && release) {
      if (!ownedNumbers.delete(release[1]!)) return send(res, 404, { error: { code: 'not_found' } });
      res.writeHead(204).end();
      return;
    }
    return send(res, 404, { error: { code: 'not_found' } });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) send(res, 500, { error: { code: 'internal' } });
    });
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    messages,
    postsByReference,
    ownedNumbers,
    get sentCount() {
      return sentCount;
    },
    get requestCount() {
      return requestCount;
    },
    setLatency: (ms) => void (latency = ms),
    setErrorRate: (rate) => void (errorRate = rate),
    setOutage: (on) => void (outage = on),
    sendInbound: (from, to, text, eventId = randomUUID()) => {
      if (!options.inboundUrl) throw new Error('no inboundUrl configured');
      return postSigned(options.inboundUrl, { eventId, from, to, text, receivedAt: new Date().toISOString() });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of pendingReports) clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
