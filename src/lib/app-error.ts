// The errors the API answers with on purpose (codes: src/lib/error-codes.ts). Anything else
// is a 500 with a generic message.
import type { ErrorCode } from './error-codes.js';
export class AppError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}
