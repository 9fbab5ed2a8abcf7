// The import domain's shapes, as routes and operations both use them.
import { Type, type Static } from '@sinclair/typebox';

export const ImportParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

export const ContactImport = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('completed'), Type.Literal('failed')]),
    fileName: Type.Union([Type.String(), Type.Null()]),
    bytes: Type.Integer(),
    rowsTotal: Type.Union([Type.Integer(), Type.Null()]),
    rowsRead: Type.Integer(),
    inserted: Type.Integer(),
    updated: Type.Integer(),
    skipped: Type.Integer(),
    failed: Type.Integer(),
    error: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    finishedAt: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);
export type ContactImport = Static<typeof ContactImport>;
