// Job payloads are `unknown` until checked: a task never trusts what is in the queue.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

/** A UUID, as a pattern: TypeBox's Value.Check knows no formats unless registered. */
export const UuidString = Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' });

export const ShopPayload = Type.Object(
  { shopId: UuidString },
  { additionalProperties: true },
);
export type ShopPayload = Static<typeof ShopPayload>;

export class InvalidPayloadError extends Error {
  constructor(task: string, detail: string) {
    super(`${task}: invalid payload (${detail})`);
    this.name = 'InvalidPayloadError';
  }
}

export function parsePayload<S extends TSchema>(task: string, schema: S, payload: unknown): Static<S> {
  if (Value.Check(schema, payload)) return payload;
  const first = Value.Errors(schema, payload).First();
  throw new InvalidPayloadError(task, first ? `${first.path || '/'} ${first.message}` : 'unknown');
}
