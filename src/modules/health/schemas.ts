// The health endpoints' answers.
import { Type, type Static } from '@sinclair/typebox';

export const HealthResponse = Type.Object({ status: Type.Literal('ok') }, { additionalProperties: false });
export type HealthResponse = Static<typeof HealthResponse>;

export const ReadyResponse = Type.Object(
  { status: Type.Literal('ok'), migration: Type.Integer() },
  { additionalProperties: false },
);
export type ReadyResponse = Static<typeof ReadyResponse>;
