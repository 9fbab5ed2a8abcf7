// The SMS provider's webhook shapes: the bodies of its delivery reports and inbound texts
// (checked after the signature, on the raw bytes), the acknowledgement, and the signature
// headers as OpenAPI shows them. The workflows take the bodies' types.
import { Type, type Static } from '@sinclair/typebox';

const EventId = Type.String({ minLength: 1, maxLength: 128 });
const Phone = Type.String({ pattern: '^\\+[1-9][0-9]{6,14}$' });

export const StatusBody = Type.Object({
  eventId: EventId,
  messageId: Type.String({ minLength: 1, maxLength: 128 }),
  clientReference: Type.Optional(Type.String({ maxLength: 128 })),
  status: Type.Union([Type.Literal('delivered'), Type.Literal('failed'), Type.Literal('undelivered')]),
  errorCode: Type.Optional(Type.String({ maxLength: 64 })),
  occurredAt: Type.Optional(Type.String({ maxLength: 40 })),
});
export type StatusBody = Static<typeof StatusBody>;

export const InboundBody = Type.Object({
  eventId: EventId,
  from: Phone,
  to: Phone,
  text: Type.String({ maxLength: 1600 }),
  receivedAt: Type.Optional(Type.String({ maxLength: 40 })),
});
export type InboundBody = Static<typeof InboundBody>;

export const Ack = Type.Object({ received: Type.Boolean(), duplicate: Type.Boolean() }, { additionalProperties: false });
export type Ack = Static<typeof Ack>;

export const SignatureHeaders = {
  type: 'object',
  properties: {
    'x-pigeon-sms-timestamp': { type: 'string', description: 'Unix seconds; older than 5 minutes is refused' },
    'x-pigeon-sms-signature': { type: 'string', description: 'v1=hex(HMAC-SHA256(SMS_WEBHOOK_SECRET, `${timestamp}.${rawBody}`))' },
  },
};

/**
 * A delivery report as the workflows apply it: a StatusBody, or one kept because it arrived
 * before its message and read back from the database (optional fields then explicitly
 * undefined).
 */
export type DeliveryReport = Pick<StatusBody, 'eventId' | 'messageId' | 'status'> & { errorCode?: string | undefined; occurredAt?: string | undefined };

/** An inbound text as the workflow applies it (an InboundBody). */
export type InboundMessage = Pick<InboundBody, 'eventId' | 'from' | 'to' | 'text'>;

export type WebhookOutcome = 'applied' | 'duplicate' | 'unknown' | 'stored' | 'unrouted';
