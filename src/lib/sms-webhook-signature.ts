// Signatures of the SMS provider's webhooks (delivery reports, inbound messages):
//   X-Pigeon-Sms-Timestamp: unix seconds
//   X-Pigeon-Sms-Signature: v1=<hex HMAC-SHA256(secret, `${timestamp}.${raw body}`)>
// The timestamp is inside the MAC, so a captured request cannot be replayed later than
// the tolerance (a replay within it is caught by the event id, which the route dedupes).
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_HEADER = 'x-pigeon-sms-timestamp';
export const SIGNATURE_HEADER = 'x-pigeon-sms-signature';

export type SmsWebhookVerification = 'ok' | 'missing' | 'malformed' | 'bad_signature' | 'stale';

function mac(secret: string, timestamp: string, rawBody: Buffer | string): Buffer {
  if (typeof secret !== 'string' || secret.length === 0) throw new TypeError('webhook secret must be a non-empty string');
  return createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
}

/** The two headers for `rawBody`, as the provider sends them. */
export function signSmsWebhook(rawBody: Buffer | string, secret: string, nowSeconds = Math.floor(Date.now() / 1000)): Record<string, string> {
  const timestamp = String(nowSeconds);
  return { [TIMESTAMP_HEADER]: timestamp, [SIGNATURE_HEADER]: `v1=${mac(secret, timestamp, rawBody).toString('hex')}` };
}

export function verifySmsWebhook(
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
  secret: string,
  opts: { toleranceSeconds?: number; nowSeconds?: number } = {},
): SmsWebhookVerification {
  const timestamp = headers[TIMESTAMP_HEADER];
  const signature = headers[SIGNATURE_HEADER];
  if (timestamp === undefined || signature === undefined) return 'missing';
  if (typeof timestamp !== 'string' || !/^[0-9]{1,12}$/.test(timestamp)) return 'malformed';
  if (typeof signature !== 'string' || !/^v1=[0-9a-f]{64}$/.test(signature)) return 'malformed';
  const expected = mac(secret, timestamp, rawBody);
  if (!timingSafeEqual(expected, Buffer.from(signature.slice(3), 'hex'))) return 'bad_signature';
  const tolerance = opts.toleranceSeconds ?? 300;
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  // Checked after the MAC, so the answer to a forged request says nothing about timing.
  if (Math.abs(now - Number(timestamp)) > tolerance) return 'stale';
  return 'ok';
}
