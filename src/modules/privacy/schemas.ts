// The privacy domain's shapes: data requests that arrived for the shop (Shopify's
// customers/data_request) and their exports.
import { Type, type Static } from '@sinclair/typebox';

export const CustomerDataRequest = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    source: Type.Literal('shopify'),
    externalRequestId: Type.String({ description: 'The data request id the source gave' }),
    externalCustomerId: Type.Union([Type.String(), Type.Null()]),
    contactFound: Type.Boolean({ description: 'Whether a contact of this shop matched the customer' }),
    receivedAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time', description: 'The export is deleted after this' }),
  },
  { additionalProperties: false },
);
export type CustomerDataRequest = Static<typeof CustomerDataRequest>;

export const CustomerDataRequestList = Type.Object({ items: Type.Array(CustomerDataRequest) }, { additionalProperties: false });

export const CustomerDataExport = Type.Object(
  {
    request: CustomerDataRequest,
    data: Type.Union([Type.Object({}, { additionalProperties: true, description: 'The same document as GET /api/v1/contacts/{id}/data (ContactData)' }), Type.Null()]),
  },
  { additionalProperties: false },
);

export const DataRequestParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
