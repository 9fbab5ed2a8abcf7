// A client that trickles its request in (a slow-body attack) is cut off by the request
// timeout, over a real socket: app.inject never exercises Node's timeout machinery.
import net from 'node:net';
import t from 'tap';
import { createTestDatabase } from './helpers/database.js';
import { buildTestApp } from './helpers/app.js';

const db = await createTestDatabase(t);
const REQUEST_TIMEOUT_MS = 1000;
// Idle timeout well above the trickle interval, so only the request timeout can end it.
const CONNECTION_TIMEOUT_MS = 60_000;
const TRICKLE_EVERY_MS = 100;

interface Outcome {
  closedAfterMs: number;
  response: string;
  bytesSent: number;
}

/** Sends headers at once, then one body byte every TRICKLE_EVERY_MS until the server ends it. */
function trickle(port: number, head: string, bodyLength: number, giveUpAfterMs: number): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let response = '';
    let bytesSent = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearInterval(timer);
      clearTimeout(giveUp);
      resolve({ closedAfterMs: Date.now() - started, response, bytesSent });
    };
    const giveUp = setTimeout(() => {
      clearInterval(timer);
      socket.destroy();
      reject(new Error(`the server kept the socket open for ${giveUpAfterMs} ms`));
    }, giveUpAfterMs);
    socket.on('data', (chunk) => (response += chunk.toString('latin1')));
    socket.on('close', finish);
    socket.on('error', () => {});
    socket.on('connect', () => {
      socket.write(head.replace('{length}', String(bodyLength)));
      timer = setInterval(() => {
        if (bytesSent < bodyLength - 1 && !socket.destroyed) {
          socket.write('x');
          bytesSent += 1;
        }
      }, TRICKLE_EVERY_MS);
    });
  });
}

t.test('a body trickled in byte by byte is cut by REQUEST_TIMEOUT_MS, not left open', async (t) => {
  const { app } = await buildTestApp(t, db.apiDb, {
    REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    CONNECTION_TIMEOUT_MS: String(CONNECTION_TIMEOUT_MS),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as net.AddressInfo;
  // Node checks the deadline every connectionsCheckingInterval; the app sets it from the
  // timeout, so the socket must be gone within the timeout plus one check (with slack for a
  // busy machine), far below Node's default 30 s check.
  const bound = REQUEST_TIMEOUT_MS * 4;
  // The body would take 600 × 100 ms = 60 s to arrive in full.
  const outcome = await trickle(
    port,
    'POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n',
    600,
    30_000,
  );
  t.ok(outcome.closedAfterMs >= REQUEST_TIMEOUT_MS, `not before the timeout (${outcome.closedAfterMs} ms)`);
  t.ok(outcome.closedAfterMs <= bound, `closed within ${bound} ms (took ${outcome.closedAfterMs} ms)`);
  t.match(outcome.response, /^HTTP\/1\.1 408 /, 'answered 408 Request Timeout');
  t.match(outcome.response, /\r\nX-Request-Id: [0-9a-f-]{36}\r\n/i, 'with a request id');
  const body = JSON.parse(outcome.response.slice(outcome.response.indexOf('\r\n\r\n') + 4));
  t.equal(body.error.code, 'REQUEST_TIMEOUT', 'in the error envelope');
  t.ok(outcome.bytesSent < 600 - 1, 'the body never finished arriving');
});

t.test('headers trickled in are cut by the same timeout', async (t) => {
  const { app } = await buildTestApp(t, db.apiDb, {
    REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    CONNECTION_TIMEOUT_MS: String(CONNECTION_TIMEOUT_MS),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as net.AddressInfo;
  // A header line that never ends: "X-Slow: xxxx…".
  const outcome = await trickle(port, 'GET /health/live HTTP/1.1\r\nHost: localhost\r\nX-Slow: ', 600, 30_000);
  t.ok(outcome.closedAfterMs <= REQUEST_TIMEOUT_MS * 4, `closed within ${REQUEST_TIMEOUT_MS * 4} ms (took ${outcome.closedAfterMs} ms)`);
});
