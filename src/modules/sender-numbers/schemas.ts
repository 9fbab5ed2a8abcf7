// Sender numbers as clients see them: read-only, assigned by operators.
import { Type, type Static } from '@sinclair/typebox';

export const SenderNumber = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    number: Type.String({ description: 'E.164' }),
    status: Type.Union([Type.Literal('active'), Type.Literal('released')]),
    assignedAt: Type.String({ format: 'date-time' }),
    releasedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    quarantinedUntil: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], {
      description: 'A released number keeps routing replies (STOP) to this shop and is not given to another shop before this time',
    }),
  },
  { $id: 'SenderNumber', additionalProperties: false },
);
export type SenderNumber = Static<typeof SenderNumber>;

export const SenderNumberList = Type.Object({ items: Type.Array(SenderNumber) }, { additionalProperties: false });
