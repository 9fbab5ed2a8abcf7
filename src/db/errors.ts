// Database errors mapped to API errors in one place. SQLSTATEs and our own 5-character
// errcodes (raised in migrations with `using errcode = ...`) are listed here and nowhere else.
import { AppError } from '../lib/app-error.js';
import type { ErrorCode } from '../lib/error-codes.js';

interface PgError {
  code?: unknown;
  detail?: unknown;
  severity?: unknown;
  routine?: unknown;
}

export function isDatabaseError(error: unknown): error is PgError & Error {
  const e = error as PgError | null;
  return (
    !!e &&
    typeof e === 'object' &&
    typeof e.code === 'string' &&
    /^[0-9A-Z]{5}$/.test(e.code) &&
    (typeof e.severity === 'string' || typeof e.routine === 'string')
  );
}

/** Our custom errcodes: what they mean to a client. */
export const CUSTOM_ERRCODES: Record<string, { status: number; code: ErrorCode; message: string }> = {
  PGNSH: { status: 500, code: 'INTERNAL_ERROR', message: 'Internal error' }, // add_job without a current shop: a bug
  PGJSH: { status: 500, code: 'INTERNAL_ERROR', message: 'Internal error' }, // job payload for another shop: a bug
  PGINS: { status: 402, code: 'INSUFFICIENT_CREDITS', message: 'The wallet does not have enough available credits' },
  PGIDM: { status: 422, code: 'IDEMPOTENCY_KEY_REUSED', message: 'This idempotency key was used for a different ledger entry' },
  PGLED: { status: 500, code: 'INTERNAL_ERROR', message: 'Internal error' }, // an invalid ledger entry: a bug
  PGJOB: { status: 500, code: 'INTERNAL_ERROR', message: 'Internal error' }, // a keyed job could not be added: a bug
};

/**
 * PGINS carries {"creditsNeeded", "creditsAvailable"} as its DETAIL (migration 0081): the
 * 402's details (API.md). Anything else there is not passed on.
 */
function creditShortfall(detail: unknown): { creditsNeeded: number; creditsAvailable: number } | undefined {
  if (typeof detail !== 'string') return undefined;
  try {
    const parsed = JSON.parse(detail) as { creditsNeeded?: unknown; creditsAvailable?: unknown };
    if (Number.isSafeInteger(parsed.creditsNeeded) && Number.isSafeInteger(parsed.creditsAvailable)) {
      return { creditsNeeded: parsed.creditsNeeded as number, creditsAvailable: parsed.creditsAvailable as number };
    }
  } catch {
    // not ours
  }
  return undefined;
}

/** Translate a Postgres error; never exposes the SQL, constraint or table names. */
export function mapDatabaseError(error: PgError): AppError {
  const code = String(error.code);
  const custom = CUSTOM_ERRCODES[code];
  if (custom) return new AppError(custom.status, custom.code, custom.message, code === 'PGINS' ? creditShortfall(error.detail) : undefined);
  switch (code) {
    case '23505':
      return new AppError(409, 'CONFLICT', 'A resource with these values already exists');
    case '23503':
      // A reference to a row this shop cannot see looks exactly like a missing row.
      return new AppError(404, 'NOT_FOUND', 'A referenced resource was not found');
    case '23502':
    case '23514':
    case '22001':
    case '22003':
    case '22007':
    case '22008':
    case '22P02':
      return new AppError(400, 'INVALID_VALUE', 'A value is not acceptable');
    case '42501':
      // RLS WITH CHECK violation or missing grant: the row is not this tenant's to touch.
      return new AppError(404, 'NOT_FOUND', 'Resource not found');
    case '40001':
    case '40P01':
    case '55P03':
      return new AppError(409, 'CONCURRENT_UPDATE', 'The resource changed concurrently; retry the request');
    case '57014':
    case '53300':
    case '08006':
    case '08001':
    case '57P01':
      return new AppError(503, 'SERVICE_UNAVAILABLE', 'The service is temporarily unavailable', undefined, { 'Retry-After': '5' });
    default:
      return new AppError(500, 'INTERNAL_ERROR', 'Internal error');
  }
}
