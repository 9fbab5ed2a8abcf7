// The billing domain's shapes: credit packages, purchases, and what the purchase routes take
// and answer. A purchase request names a package and nothing else: no amount, price or
// credit count is ever taken from a client (additionalProperties: false refuses them).
import { Type, type Static } from '@sinclair/typebox';

const NullableString = Type.Union([Type.String(), Type.Null()]);
const NullableDateTime = Type.Union([Type.String({ format: 'date-time' }), Type.Null()]);

export const CreditPackage = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    credits: Type.Integer({ minimum: 1 }),
    amount: Type.Integer({ minimum: 1, description: 'Price in the currency minor unit (cents)' }),
    currency: Type.String({ description: 'ISO 4217, lower case' }),
  },
  { additionalProperties: false },
);
export type CreditPackage = Static<typeof CreditPackage>;
export const CreditPackageList = Type.Object({ items: Type.Array(CreditPackage) }, { additionalProperties: false });

export const PurchaseStatus = Type.Union([
  Type.Literal('pending'),
  Type.Literal('paid'),
  Type.Literal('failed'),
  Type.Literal('expired'),
  Type.Literal('refunded'),
  Type.Literal('partially_refunded'),
  Type.Literal('disputed'),
]);
export type PurchaseStatus = Static<typeof PurchaseStatus>;

export const Purchase = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    packageId: Type.String(),
    provider: Type.Union([Type.Literal('stripe'), Type.Literal('shopify')]),
    status: PurchaseStatus,
    credits: Type.Integer({ description: 'Credits this purchase adds once paid' }),
    amount: Type.Integer({ description: 'Price paid, in the currency minor unit' }),
    currency: Type.String(),
    amountRefunded: Type.Integer({ description: 'Refunded so far, in the currency minor unit' }),
    creditsReversed: Type.Integer({ description: 'Credits taken back after refunds or a lost dispute' }),
    creditShortfall: Type.Integer({ description: 'Credits a refund should have taken back but had already been spent' }),
    checkoutUrl: Type.Union([Type.String({ format: 'uri' }), Type.Null()], { description: 'Where the buyer pays (while pending)' }),
    receiptUrl: Type.Union([Type.String({ format: 'uri' }), Type.Null()]),
    failureReason: NullableString,
    createdAt: Type.String({ format: 'date-time' }),
    paidAt: NullableDateTime,
  },
  { additionalProperties: false },
);
export type Purchase = Static<typeof Purchase>;

export const PurchaseInput = Type.Object({ packageId: Type.String({ minLength: 1, maxLength: 40, pattern: '^[a-z0-9][a-z0-9_-]*$' }) }, { additionalProperties: false });
export type PurchaseInput = Static<typeof PurchaseInput>;

export const CreatedPurchase = Type.Object(
  { purchase: Purchase, checkoutUrl: Type.String({ format: 'uri', description: 'Send the buyer here (Stripe Checkout)' }) },
  { additionalProperties: false },
);

export const PurchaseParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

export const ConfirmInput = Type.Object(
  {
    sessionId: Type.Optional(
      Type.String({ minLength: 1, maxLength: 255, description: 'The Checkout Session id the success page received; must be the one Pigeon created for this purchase' }),
    ),
  },
  { additionalProperties: false },
);
export type ConfirmInput = Static<typeof ConfirmInput>;

export const PurchaseListQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    status: Type.Optional(PurchaseStatus),
  },
  { additionalProperties: false },
);
export const PurchaseList = Type.Object({ items: Type.Array(Purchase), nextCursor: NullableString }, { additionalProperties: false });

export const StripeWebhookHeaders = Type.Object(
  // Optional here so that a missing signature is the webhook's 401, not a validation 400.
  { 'stripe-signature': Type.Optional(Type.String({ description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint signing secret>' })) },
  { additionalProperties: true },
);
export const StripeWebhookAck = Type.Object({ received: Type.Boolean(), duplicate: Type.Boolean() }, { additionalProperties: false });
