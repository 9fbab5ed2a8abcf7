// The wallet's shapes, as routes and operations both use them.
import { Type, type Static } from '@sinclair/typebox';

export const CreditEntryKind = Type.Union([
  Type.Literal('purchase'),
  Type.Literal('reserve'),
  Type.Literal('release'),
  Type.Literal('debit'),
  Type.Literal('refund'),
  Type.Literal('adjustment'),
  Type.Literal('refund_reversal'),
], { description: 'purchase: credits bought; refund: a message credit returned; refund_reversal: credits taken back after a payment refund or lost dispute (negative)' });
export type CreditEntryKind = Static<typeof CreditEntryKind>;

export const Wallet = Type.Object({ balance: Type.Integer(), reserved: Type.Integer(), available: Type.Integer() }, { additionalProperties: false });
export type Wallet = Static<typeof Wallet>;

const Nullable = Type.Union([Type.String(), Type.Null()]);
export const WalletEntry = Type.Object(
  {
    id: Type.String(),
    kind: CreditEntryKind,
    credits: Type.Integer({ description: 'Effect on the balance (reserve/release: amount moved in/out of the reservation)' }),
    balanceAfter: Type.Integer(),
    reservedAfter: Type.Integer(),
    idempotencyKey: Type.String(),
    referenceType: Nullable,
    referenceId: Nullable,
    reason: Nullable,
    actorId: Nullable,
    createdAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type WalletEntry = Static<typeof WalletEntry>;

export const WalletEntryListQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), kind: Type.Optional(CreditEntryKind) },
  { additionalProperties: false },
);
export const WalletEntryList = Type.Object({ items: Type.Array(WalletEntry), nextCursor: Nullable }, { additionalProperties: false });
