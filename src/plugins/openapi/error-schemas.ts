// The error envelope as OpenAPI components. One envelope for every status; `details` has one
// shape, a list of {field, message} (src/lib/error-details.ts turns every field-level detail
// into it), except where a status says otherwise: 402 (the credit shortfall) and the 503 of
// GET /health/ready (the migration the database is at).

type Json = Record<string, unknown>;

const envelope = (details: Json | undefined, detailsRequired: boolean, description: string, code?: string[]): Json => ({
  type: 'object',
  description,
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'message', 'requestId', ...(detailsRequired ? ['details'] : [])],
      properties: {
        code: { type: 'string', description: 'SNAKE_CASE, stable: what clients branch on', ...(code ? { enum: code } : {}) },
        message: { type: 'string', description: 'For people; may change' },
        requestId: { type: 'string', description: 'The X-Request-Id of the response' },
        ...(details ? { details } : {}),
      },
    },
  },
});

export const ERROR_COMPONENTS: Record<string, Json> = {
  FieldError: {
    type: 'object',
    description: 'One request field that is wrong',
    additionalProperties: false,
    required: ['field', 'message'],
    properties: {
      field: { type: 'string', description: 'Where: body.phone, querystring.cursor, headers.idempotency-key, file, …' },
      message: { type: 'string' },
      reason: { type: 'string', description: 'A machine-readable reason, when there are several (WEAK_PASSWORD: too_short, too_long, common, contains_email)' },
    },
  },
  Error: envelope(
    { type: 'array', items: { $ref: '#/components/schemas/FieldError' }, description: 'The fields at fault (always this shape; absent when no field is at fault)' },
    false,
    'The error envelope of every refused request',
  ),
  CreditShortfall: {
    type: 'object',
    additionalProperties: false,
    required: ['creditsNeeded', 'creditsAvailable'],
    properties: {
      creditsNeeded: { type: 'integer', description: 'What the operation needs' },
      creditsAvailable: { type: 'integer', description: 'Balance minus reserved, when refused' },
    },
  },
  InsufficientCreditsError: envelope({ $ref: '#/components/schemas/CreditShortfall' }, true, '402: the wallet cannot cover the operation; nothing changed', ['INSUFFICIENT_CREDITS']),
  NotReadyError: envelope(
    {
      type: 'object',
      additionalProperties: false,
      required: ['applied', 'expected'],
      properties: { applied: { type: 'integer', nullable: true }, expected: { type: 'integer' } },
      description: 'When the migrations are not current: the last applied and the latest known',
    },
    false,
    '503 from the readiness probe',
    ['NOT_READY'],
  ),
};

/** The schema component each error status refers to (default: Error). */
export function errorComponentFor(operationId: string, status: number): string {
  if (status === 402) return 'InsufficientCreditsError';
  if (status === 503 && operationId === 'getReadiness') return 'NotReadyError';
  return 'Error';
}
