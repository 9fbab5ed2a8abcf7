// The Shopify domain's shapes, as routes and operations both use them.
import { Type, type Static } from '@sinclair/typebox';

/** A customer backfill (POST/GET /api/v1/shopify/sync) with its progress. */
export const ShopifySync = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    status: Type.Union([Type.Literal('queued'), Type.Literal('running'), Type.Literal('done'), Type.Literal('failed')]),
    /** The customers Shopify's bulk operation reported (null until it has run). */
    customersTotal: Type.Union([Type.Integer(), Type.Null()]),
    /** Customers read from the result so far. */
    customersRead: Type.Integer(),
    inserted: Type.Integer(),
    updated: Type.Integer(),
    /** Customers without a usable phone number, or with one another customer already had. */
    skipped: Type.Integer(),
    /** Times the bulk operation was run again because its result had expired (counters restart). */
    restarts: Type.Integer(),
    error: Type.Union([Type.String(), Type.Null()]),
    createdAt: Type.String({ format: 'date-time' }),
    startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  },
  { additionalProperties: false },
);
export type ShopifySync = Static<typeof ShopifySync>;
