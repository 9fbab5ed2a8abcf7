// One shape for `details` in error responses (API.md: 400 details is a list of {field,
// message}): the field-level details services raise as {field} or {field, reasons} become that
// list, whatever the status (400, 404, 409). Two statuses keep their own documented shapes:
// 402 {creditsNeeded, creditsAvailable} and the readiness 503 {applied, expected}.
// src/plugins/openapi/error-schemas.ts documents the result.

export interface FieldError {
  field: string;
  message: string;
  /** When one field fails for several reasons (the password policy). */
  reason?: string;
}

const PASSWORD_REASONS: Record<string, string> = {
  too_short: 'is shorter than 12 characters',
  too_long: 'is longer than 128 characters',
  common: 'is a commonly used password',
  contains_email: 'contains the e-mail address',
};

export function normaliseDetails(message: string, details: unknown): unknown {
  if (details === undefined || details === null || Array.isArray(details) || typeof details !== 'object') return details;
  const d = details as Record<string, unknown>;
  if (typeof d.field === 'string') {
    const field = d.field;
    if (Array.isArray(d.reasons) && d.reasons.length > 0) {
      return d.reasons.map((reason): FieldError => ({ field, message: PASSWORD_REASONS[String(reason)] ?? message, reason: String(reason) }));
    }
    return [{ field, message } satisfies FieldError];
  }
  // A CSV without a phone column: the header row it has, for the person mapping columns.
  if (Array.isArray(d.headers)) {
    const headers = d.headers.map(String).slice(0, 50).join(', ');
    return [{ field: 'file', message: `${message}; the header row has: ${headers}` } satisfies FieldError];
  }
  return details;
}
