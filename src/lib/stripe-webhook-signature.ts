// Stripe webhook signatures, checked with the stripe SDK itself (constructEvent: HMAC-SHA256
// of "<t>.<raw body>", constant-time compare, refuses a timestamp older than the tolerance).
// The SDK checks only age, so a timestamp more than the tolerance in the FUTURE is refused
// here first (a captured delivery must not be replayable for longer than the tolerance by
// signing it ahead). Several secrets are tried, for rotation. Pure: no I/O.
import Stripe from 'stripe';

/** API.md: 300 s tolerance. */
export const STRIPE_SIGNATURE_TOLERANCE_SECONDS = 300;

export type StripeSignatureCheck =
  | { ok: true; event: Stripe.Event }
  | { ok: false; reason: 'missing' | 'malformed' | 'future' | 'invalid' };

export function verifyStripeWebhook(
  raw: Buffer,
  header: string | string[] | undefined,
  secrets: readonly string[],
  nowSeconds: number = Math.floor(Date.now() / 1000),
): StripeSignatureCheck {
  if (typeof header !== 'string' || header.length === 0) return { ok: false, reason: 'missing' };
  if (header.length > 2048) return { ok: false, reason: 'malformed' };
  const timestamps = header
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.startsWith('t='))
    .map((part) => part.slice(2));
  if (timestamps.length !== 1 || !/^\d{1,12}$/.test(timestamps[0]!)) return { ok: false, reason: 'malformed' };
  if (Number(timestamps[0]) > nowSeconds + STRIPE_SIGNATURE_TOLERANCE_SECONDS) return { ok: false, reason: 'future' };
  for (const secret of secrets) {
    try {
      // receivedAt is in MILLISECONDS (the SDK divides by 1000); seconds here would make every
      // signature look fresh.
      const event = Stripe.webhooks.constructEvent(raw, header, secret, STRIPE_SIGNATURE_TOLERANCE_SECONDS, undefined, nowSeconds * 1000);
      return { ok: true, event };
    } catch {
      // the next secret, if any
    }
  }
  return { ok: false, reason: 'invalid' };
}
