// Log redaction: known secret-bearing fields by path, and e-mail addresses and phone
// numbers wherever they appear in a logged string.
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'req.headers["x-shopify-hmac-sha256"]',
  'req.headers["stripe-signature"]',
  'req.headers["x-metrics-token"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.currentPassword',
  '*.newPassword',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.secret',
  '*.apiKey',
  '*.email',
  '*.phone',
  'password',
  'token',
  'secret',
  'email',
  'phone',
];

export const REDACTED = '[redacted]';

// Quantifiers are bounded so that scrubbing stays linear on hostile input (no ReDoS).
const EMAIL = /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z]{2,24}/g;
// E.164 and common national formats: 8+ digits with optional +, spaces, dots, dashes, parentheses.
const PHONE = /(?<![\w/])\+?\d[\d\s().-]{6,24}\d(?![\w/])/g;
// Bearer tokens, JWTs and long opaque tokens in free text.
const BEARER = /\bBearer\s+[A-Za-z0-9._~+/=-]+/gi;
const JWT = /\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
// Longer strings are cut before scrubbing: logs are not the place for bulk data.
const MAX_LOGGED_STRING = 4096;

export function redactString(input: string): string {
  const value = input.length > MAX_LOGGED_STRING ? `${input.slice(0, MAX_LOGGED_STRING)}…[${input.length - MAX_LOGGED_STRING} more chars]` : input;
  return value
    .replace(BEARER, `Bearer ${REDACTED}`)
    .replace(JWT, REDACTED)
    .replace(EMAIL, '[email]')
    .replace(PHONE, (match) => (match.replace(/\D/g, '').length >= 8 ? '[phone]' : match));
}

/** Deep copy with every string scrubbed; bounded depth so a cyclic or huge object stays cheap. */
export function redactValue(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return redactString(value);
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) {
    // Error fields are not enumerable: copy the ones worth logging, scrubbed.
    const e = value as Error & { code?: unknown; statusCode?: unknown };
    return {
      type: e.name,
      message: redactString(e.message),
      stack: e.stack ? redactString(e.stack) : undefined,
      code: typeof e.code === 'string' ? e.code : undefined,
      statusCode: typeof e.statusCode === 'number' ? e.statusCode : undefined,
    };
  }
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1));
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) out[key] = redactValue(v, depth + 1);
  return out;
}
