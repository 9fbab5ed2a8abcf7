// The SMS provider adapter. Its protocol (src/providers/sms/fake-server.ts speaks it):
//   POST /v1/messages {to, from, body, clientReference}  Bearer <api key>
//        → 201 {id, status, clientReference, segments}; a repeated clientReference → 200
//          with the ORIGINAL message (no second send), as providers with client
//          references do.
//   GET  /v1/messages?clientReference=…  → 200 the message, 404 none.
//   GET  /v1/numbers/available?country=US  → 200 {numbers: [e164, …]} numbers for sale.
//   POST /v1/numbers {number}  → 201 {id, number}: the number is bought for this account.
//   DELETE /v1/numbers/:id  → 204: the number goes back to the provider.
//   4xx (but 408/429) permanent, 5xx/408/429 and network errors transient.
// Every call has a timeout. A circuit breaker (opossum) opens after repeated transient
// failures so that an outage costs one fast refusal per call instead of a timeout each;
// permanent errors (a bad number) never open it. There are no retries in here: a failed
// batch is retried by graphile-worker with backoff, which is what pauses sending during an
// outage and resumes it afterwards.
//
// HTTP goes through undici's Pool (kept-alive connections, one per request in flight)
// rather than the global fetch: at thousands of messages per second, fetch's WHATWG
// streams and per-request AbortSignal cost more CPU than the rest of the send path
// (measured with bench/send.ts: the worker process was CPU-bound in fetch).
import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { errors as undiciErrors, Pool } from 'undici';

export class SmsPermanentError extends Error {
  constructor(
    readonly code: string,
    readonly status: number,
  ) {
    super(`the SMS provider refused the message (${status} ${code})`);
    this.name = 'SmsPermanentError';
  }
}

export class SmsTransientError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'SmsTransientError';
  }
}

export class SmsCircuitOpenError extends Error {
  constructor() {
    super('the SMS provider circuit is open: sending is paused until it recovers');
    this.name = 'SmsCircuitOpenError';
  }
}

export interface SmsClientOptions {
  baseUrl: string;
  apiKey: string;
  timeoutMs: number;
  /** Connections kept open to the provider (requests in flight at most). Default 128. */
  connections?: number;
  breaker: { errorThresholdPercentage: number; resetTimeoutMs: number; volumeThreshold: number };
  /** Called when the breaker changes state (metrics, logs). */
  onBreakerState?: (state: 'open' | 'halfOpen' | 'closed') => void;
}

export interface ProviderMessage {
  providerMessageId: string;
  status: string;
  segments?: number;
  replayed: boolean;
}

type Request = { method: 'POST' | 'GET' | 'DELETE'; path: string; body?: unknown };
type Response = { status: number; json: unknown };

export interface ProviderNumber {
  providerNumberId: string;
  number: string;
}

export interface SmsClient {
  /** `from` is one of the shop's assigned sender numbers. */
  send(input: { from: string; to: string; body: string; clientReference: string }): Promise<ProviderMessage>;
  lookup(clientReference: string): Promise<ProviderMessage | null>;
  /** Numbers the provider offers for sale in a country (ISO 3166 alpha-2). */
  availableNumbers(country: string): Promise<string[]>;
  purchaseNumber(number: string): Promise<ProviderNumber>;
  releaseNumber(providerNumberId: string): Promise<void>;
  breakerState(): 'open' | 'halfOpen' | 'closed';
  shutdown(): void;
}

function toMessage(json: unknown, replayed: boolean): ProviderMessage {
  const body = (json ?? {}) as { id?: unknown; status?: unknown; segments?: unknown };
  if (typeof body.id !== 'string' || body.id.length === 0 || body.id.length > 128) throw new SmsTransientError('the SMS provider answered without a message id');
  return { providerMessageId: body.id, status: typeof body.status === 'string' ? body.status : 'queued', ...(typeof body.segments === 'number' ? { segments: body.segments } : {}), replayed };
}

const MAX_RESPONSE_BYTES = 64 * 1024;
class ResponseTooLargeError extends Error {}

export function createSmsClient(options: SmsClientOptions): SmsClient {
  const origin = new URL(options.baseUrl);
  const pathPrefix = origin.pathname.replace(/\/+$/, '');
  const pool = new Pool(origin.origin, {
    connections: options.connections ?? 128,
    connectTimeout: options.timeoutMs,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    keepAliveTimeout: 10_000,
  });
  const headers = (withBody: boolean) => ({ authorization: `Bearer ${options.apiKey}`, accept: 'application/json', ...(withBody ? { 'content-type': 'application/json' } : {}) });

  async function call(request: Request): Promise<Response> {
    let status: number;
    let text: string;
    // undici's own header/body timeouts tick coarsely (about half a second) and an
    // AbortSignal per request costs a tenth of the send path's throughput; undici also takes
    // an EventEmitter as its signal, which with one native timer holds the timeout to the
    // millisecond for much less.
    const abort = new EventEmitter();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      abort.emit('abort');
    }, options.timeoutMs);
    try {
      const response = await pool.request({
        method: request.method,
        path: `${pathPrefix}${request.path}`,
        headers: headers(request.body !== undefined),
        ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
        signal: abort,
      });
      status = response.statusCode;
      // A provider answer is small: a larger one is read no further and counts as a failure.
      const parts: Buffer[] = [];
      let size = 0;
      for await (const part of response.body) {
        size += (part as Buffer).length;
        if (size > MAX_RESPONSE_BYTES) {
          response.body.destroy();
          throw new ResponseTooLargeError();
        }
        parts.push(part as Buffer);
      }
      text = Buffer.concat(parts).toString('utf8');
    } catch (error) {
      if (error instanceof ResponseTooLargeError) throw new SmsTransientError(`the SMS provider answered more than ${MAX_RESPONSE_BYTES} bytes`);
      const late =
        timedOut || error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError || error instanceof undiciErrors.ConnectTimeoutError;
      throw new SmsTransientError(late ? 'the SMS provider did not answer in time' : 'the SMS provider could not be reached');
    } finally {
      clearTimeout(timer);
    }
    let json: unknown = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    if (status >= 500 || status === 408 || status === 429) {
      throw new SmsTransientError(`the SMS provider answered ${status}`, status);
    }
    if (status >= 300 && status < 400) throw new SmsTransientError(`the SMS provider answered a redirect (${status}): check SMS_PROVIDER_URL`, status);
    if (status >= 400 && !(request.method === 'GET' && status === 404)) {
      const code = (json as { error?: { code?: unknown } } | null)?.error?.code;
      throw new SmsPermanentError(typeof code === 'string' ? code.slice(0, 64) : `http_${status}`, status);
    }
    return { status, json };
  }

  const breaker = new CircuitBreaker(call, {
    timeout: false, // every request has its own timeout
    errorThresholdPercentage: options.breaker.errorThresholdPercentage,
    resetTimeout: options.breaker.resetTimeoutMs,
    volumeThreshold: options.breaker.volumeThreshold,
    rollingCountTimeout: 10_000,
    // A refused message is the provider working correctly: it must not open the circuit.
    errorFilter: (error: unknown) => error instanceof SmsPermanentError,
  });
  breaker.on('open', () => options.onBreakerState?.('open'));
  breaker.on('halfOpen', () => options.onBreakerState?.('halfOpen'));
  breaker.on('close', () => options.onBreakerState?.('closed'));

  async function fire(request: Request): Promise<Response> {
    try {
      return await breaker.fire(request);
    } catch (error) {
      if ((error as { code?: string }).code === 'EOPENBREAKER') throw new SmsCircuitOpenError();
      throw error;
    }
  }

  return {
    async send(input) {
      const response = await fire({ method: 'POST', path: '/v1/messages', body: { to: input.to, from: input.from, body: input.body, clientReference: input.clientReference } });
      return toMessage(response.json, response.status === 200);
    },
    async lookup(clientReference) {
      const response = await fire({ method: 'GET', path: `/v1/messages?clientReference=${encodeURIComponent(clientReference)}` });
      return response.status === 404 ? null : toMessage(response.json, true);
    },
    async availableNumbers(country) {
      const response = await fire({ method: 'GET', path: `/v1/numbers/available?country=${encodeURIComponent(country)}` });
      const numbers = (response.json as { numbers?: unknown } | null)?.numbers;
      if (response.status === 404 || !Array.isArray(numbers)) return [];
      return numbers.filter((n): n is string => typeof n === 'string' && /^\+[1-9]\d{6,14}$/.test(n));
    },
    async purchaseNumber(number) {
      const response = await fire({ method: 'POST', path: '/v1/numbers', body: { number } });
      const body = (response.json ?? {}) as { id?: unknown; number?: unknown };
      if (typeof body.id !== 'string' || body.id.length === 0 || body.id.length > 128 || body.number !== number) {
        throw new SmsTransientError('the SMS provider answered a number purchase without the number');
      }
      return { providerNumberId: body.id, number };
    },
    async releaseNumber(providerNumberId) {
      await fire({ method: 'DELETE', path: `/v1/numbers/${encodeURIComponent(providerNumberId)}` });
    },
    breakerState: () => (breaker.opened ? 'open' : breaker.halfOpen ? 'halfOpen' : 'closed'),
    shutdown: () => {
      breaker.shutdown();
      void pool.close().catch(() => {});
    },
  };
}
