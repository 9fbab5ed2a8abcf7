// The contact domain's shapes: each schema is the route's schema and, through Static, the
// operations' type. Every query parameter is in a schema with additionalProperties: false,
// so an unknown one is a 400.
import { Type, type Static } from '@sinclair/typebox';

export const ConsentState = Type.Union([Type.Literal('subscribed'), Type.Literal('unsubscribed'), Type.Literal('never')]);
export type ConsentState = Static<typeof ConsentState>;
const NullableString = (max: number) => Type.Union([Type.String({ minLength: 1, maxLength: max }), Type.Null()]);
const Tag = Type.String({ minLength: 1, maxLength: 64, pattern: '^[^,\\n\\r]+$' });
const Attributes = Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), Type.Union([Type.Number(), Type.Boolean(), Type.Null(), Type.String({ maxLength: 1000 })]), {
  maxProperties: 50,
  description: 'Flat custom attributes (string, number, boolean or null values)',
});
const Phone = Type.String({ minLength: 1, maxLength: 40 });
const writable = {
  email: Type.Optional(Type.Union([Type.String({ format: 'email', maxLength: 320 }), Type.Null()])),
  firstName: Type.Optional(NullableString(100)),
  lastName: Type.Optional(NullableString(100)),
  tags: Type.Optional(Type.Array(Tag, { maxItems: 50 })),
  attributes: Type.Optional(Attributes),
  timeZone: Type.Optional(NullableString(64)),
};

export const Contact = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    phone: Type.String({ description: 'E.164' }),
    email: Type.Union([Type.String(), Type.Null()]),
    firstName: Type.Union([Type.String(), Type.Null()]),
    lastName: Type.Union([Type.String(), Type.Null()]),
    tags: Type.Array(Type.String()),
    attributes: Type.Record(Type.String(), Type.Unknown()),
    timeZone: Type.Union([Type.String(), Type.Null()]),
    country: Type.Union([Type.String(), Type.Null()]),
    consent: ConsentState,
    consentUpdatedAt: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type Contact = Static<typeof Contact>;

export const ContactInput = Type.Object({ phone: Phone, consent: Type.Optional(ConsentState), ...writable }, { additionalProperties: false });
export type ContactInput = Static<typeof ContactInput>;
// Consent is not patchable: a change of consent is a link in the chain (POST …/consent).
export const ContactPatch = Type.Object({ phone: Type.Optional(Phone), ...writable }, { additionalProperties: false, minProperties: 1 });
export type ContactPatch = Static<typeof ContactPatch>;

export const ContactParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

export const ContactListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    consent: Type.Optional(ConsentState),
    tag: Type.Optional(Tag),
    createdFrom: Type.Optional(Type.String({ format: 'date-time' })),
    createdTo: Type.Optional(Type.String({ format: 'date-time' })),
    updatedFrom: Type.Optional(Type.String({ format: 'date-time' })),
    updatedTo: Type.Optional(Type.String({ format: 'date-time' })),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Phone prefix (digits) or name prefix' })),
  },
  { additionalProperties: false },
);
/** The list's filters as the search takes them: the cursor decoded to its key. */
export type ContactFilters = Omit<Static<typeof ContactListQuery>, 'cursor'> & { after: [string, string] | null };
export const ContactList = Type.Object({ items: Type.Array(Contact), nextCursor: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false });

export const ContactExportQuery = Type.Object({ consent: Type.Optional(ConsentState), tag: Type.Optional(Tag) }, { additionalProperties: false });
export type ContactExportQuery = Static<typeof ContactExportQuery>;

export const ConsentEvent = Type.Object(
  {
    seq: Type.Integer(),
    state: ConsentState,
    previousState: Type.Union([ConsentState, Type.Null()]),
    source: Type.String(),
    actor: Type.Object({ kind: Type.String(), id: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false }),
    occurredAt: Type.String(),
    hash: Type.String(),
    prevHash: Type.String(),
    redacted: Type.Boolean(),
  },
  { additionalProperties: false },
);
export type ConsentEvent = Static<typeof ConsentEvent>;
export const ConsentHistory = Type.Object({ items: Type.Array(ConsentEvent) }, { additionalProperties: false });

// Only people change consent through the API; keywords, imports and Shopify have their own paths.
export const ConsentChangeInput = Type.Object({ state: ConsentState, source: Type.Optional(Type.Union([Type.Literal('api'), Type.Literal('admin')])) }, { additionalProperties: false });
export type ConsentChangeInput = Static<typeof ConsentChangeInput>;

export const BrokenLink = Type.Object({ contactId: Type.String(), seq: Type.Union([Type.Integer(), Type.Null()]), reason: Type.String() }, { additionalProperties: false });
export type BrokenLink = Static<typeof BrokenLink>;
export const ConsentVerification = Type.Object(
  { ok: Type.Boolean(), contacts: Type.Integer(), events: Type.Integer(), firstBroken: Type.Union([BrokenLink, Type.Null()]) },
  { additionalProperties: false },
);
export type ConsentVerification = Static<typeof ConsentVerification>;
