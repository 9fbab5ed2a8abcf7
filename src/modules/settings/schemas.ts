// The shop settings' shapes, as routes and operations both use them.
import { Type, type Static } from '@sinclair/typebox';

const Clock = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, local time of the recipient' });
const fields = {
  timeZone: Type.String({ minLength: 1, maxLength: 64, description: 'IANA zone: the fallback for contacts without one (spelled as contacts spell it)' }),
  quietHoursStart: Clock,
  quietHoursEnd: Clock,
  retentionDays: Type.Integer({ minimum: 30, maximum: 3650 }),
  senderName: Type.Union([Type.String({ minLength: 1, maxLength: 11 }), Type.Null()]),
  sendingPaused: Type.Boolean({ description: 'Kill switch: while true nothing is sent (batches wait and resume)' }),
  frequencyCapPerDay: Type.Integer({ minimum: 0, maximum: 100, description: 'Campaign messages per contact per 24 h; 0 = no cap' }),
  optOutText: Type.String({ minLength: 1, maxLength: 100 }),
};
export const Settings = Type.Object(
  {
    ...fields,
    sendingHolds: Type.Array(Type.String(), {
      description: 'Read-only: holds that pause sending until an operator (or, for a payment dispute, its outcome) lifts them, e.g. billing:dispute:<id>, billing:refund_shortfall:<purchase id>',
    }),
    senderNumbers: Type.Array(Type.String(), { description: 'Read-only: the active sending numbers an operator assigned (GET /api/v1/sender-numbers has their history)' }) },
  { additionalProperties: false },
);
export type Settings = Static<typeof Settings>;
export const SettingsPatch = Type.Partial(Type.Object(fields), { additionalProperties: false, minProperties: 1 });
export type SettingsPatch = Static<typeof SettingsPatch>;
