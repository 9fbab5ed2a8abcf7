// The campaign domain's shapes: each schema is the route's schema and, through Static, the
// operations' type.
import { Type, type Static } from '@sinclair/typebox';

export const CampaignStatus = Type.Union([
  Type.Literal('draft'),
  Type.Literal('scheduled'),
  Type.Literal('queued'),
  Type.Literal('sending'),
  Type.Literal('sent'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
]);
export type CampaignStatus = Static<typeof CampaignStatus>;
const NullableString = Type.Union([Type.String(), Type.Null()]);

export const Campaign = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    name: Type.String(),
    body: Type.String(),
    segmentId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    templateId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    discountCode: NullableString,
    status: CampaignStatus,
    scheduledAt: NullableString,
    queuedAt: NullableString,
    startedAt: NullableString,
    finishedAt: NullableString,
    cancelledAt: NullableString,
    recipientsTotal: Type.Integer(),
    creditsReserved: Type.Integer(),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type Campaign = Static<typeof Campaign>;

export const Estimate = Type.Object(
  {
    recipients: Type.Integer(),
    credits: Type.Integer({ description: 'One credit per SMS segment, counted after personalisation' }),
    encodings: Type.Object({ 'GSM-7': Type.Integer(), 'UCS-2': Type.Integer() }, { additionalProperties: false, description: 'Recipients per encoding' }),
    segmentsPerMessage: Type.Object({ min: Type.Integer(), max: Type.Integer() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type Estimate = Static<typeof Estimate>;

export const EnqueuedCampaign = Type.Composite([Campaign, Type.Object({ estimate: Estimate })], { additionalProperties: false });
export type EnqueuedCampaign = Static<typeof EnqueuedCampaign>;

const fields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  body: Type.String({ minLength: 1, maxLength: 1600, description: 'Tags: {{first_name}}, {{last_name}}, {{shop_name}}, {{discount_code}}, {{unsubscribe}}; {{tag|fallback}}' }),
  segmentId: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()], { description: 'Absent or null: every subscribed contact' })),
  templateId: Type.Optional(Type.Union([Type.String({ format: 'uuid' }), Type.Null()])),
  discountCode: Type.Optional(Type.Union([Type.String({ minLength: 1, maxLength: 64 }), Type.Null()])),
  scheduledAt: Type.Optional(Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'In the future; absent: send when enqueued' })),
};
export const CampaignInput = Type.Object(fields, { additionalProperties: false });
export type CampaignInput = Static<typeof CampaignInput>;
export const CampaignPatch = Type.Object({ ...fields, name: Type.Optional(fields.name), body: Type.Optional(fields.body) }, { additionalProperties: false });
export type CampaignPatch = Static<typeof CampaignPatch>;

export const CampaignParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
const Page = { limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) };
export const CampaignListQuery = Type.Object({ ...Page, status: Type.Optional(CampaignStatus) }, { additionalProperties: false });
export const CampaignList = Type.Object({ items: Type.Array(Campaign), nextCursor: NullableString }, { additionalProperties: false });

export const RecipientStatus = Type.Union(['queued', 'sending', 'sent', 'delivered', 'failed', 'skipped', 'cancelled'].map((s) => Type.Literal(s)));
export const Recipient = Type.Object(
  {
    id: Type.String(),
    // Null once the retention job anonymised the finished campaign.
    contactId: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
    status: Type.String(),
    skipReason: NullableString,
    attempts: Type.Integer(),
    segments: Type.Union([Type.Integer(), Type.Null()]),
    credits: Type.Union([Type.Integer(), Type.Null()]),
    providerMessageId: NullableString,
    errorCode: NullableString,
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);
export type Recipient = Static<typeof Recipient>;
export const RecipientListQuery = Type.Object({ ...Page, status: Type.Optional(RecipientStatus) }, { additionalProperties: false });
export const RecipientList = Type.Object({ items: Type.Array(Recipient), nextCursor: NullableString }, { additionalProperties: false });

export const CampaignMetrics = Type.Object(
  {
    status: CampaignStatus,
    recipients: Type.Integer(),
    queued: Type.Integer(),
    sent: Type.Integer(),
    delivered: Type.Integer(),
    failed: Type.Integer(),
    skipped: Type.Integer(),
    cancelled: Type.Integer(),
    credits: Type.Object({ reserved: Type.Integer(), spent: Type.Integer(), released: Type.Integer(), refunded: Type.Integer() }, { additionalProperties: false }),
  },
  { additionalProperties: false },
);
export type CampaignMetrics = Static<typeof CampaignMetrics>;
