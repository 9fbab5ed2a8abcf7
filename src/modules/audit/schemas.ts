// The audit domain's shapes: each schema is the route's schema and, through Static, the
// operations' type. Two lists read the same log: the shop's audit events (owners and
// admins) and a user's own account-level security events.
import { Type, type Static } from '@sinclair/typebox';

const NullableString = Type.Union([Type.String(), Type.Null()]);
const Page = { limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) };

export const AuditEvent = Type.Object(
  {
    id: Type.String(),
    action: Type.String(),
    result: Type.String(),
    userId: NullableString,
    resourceType: NullableString,
    resourceId: NullableString,
    ipHash: NullableString,
    userAgent: NullableString,
    requestId: NullableString,
    metadata: Type.Record(Type.String(), Type.Unknown()),
    createdAt: Type.String(),
  },
  { additionalProperties: false },
);
export type AuditEvent = Static<typeof AuditEvent>;

export const AuditEventListQuery = Type.Object(
  {
    ...Page,
    action: Type.Optional(Type.String({ pattern: '^[a-z][a-z0-9_.]{1,63}$' })),
    from: Type.Optional(Type.String({ format: 'date-time' })),
    to: Type.Optional(Type.String({ format: 'date-time' })),
  },
  { additionalProperties: false },
);
/** The list's filters as the operation takes them: the cursor decoded to its key. */
export type AuditEventFilters = Omit<Static<typeof AuditEventListQuery>, 'cursor'> & { after: [string, string] | null };
export const AuditEventList = Type.Object({ items: Type.Array(AuditEvent), nextCursor: NullableString }, { additionalProperties: false });

/**
 * What counts as a security event. Successful sign-ins are not listed (the sessions list
 * shows those); failed ones, lockouts, a refresh token presented twice (a stolen token) and
 * every way a session ends early are.
 */
export const SECURITY_ACTIONS = [
  'auth.login',
  'auth.lockout',
  'auth.refresh_reuse',
  'auth.refresh_fingerprint_changed',
  'auth.session_revoke',
  'auth.logout',
  'auth.logout_all',
  'auth.password_change',
] as const;

const AuditResult = Type.Union([Type.Literal('success'), Type.Literal('failure'), Type.Literal('denied')]);

export const SecurityEvent = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    action: Type.Union(SECURITY_ACTIONS.map((a) => Type.Literal(a))),
    result: AuditResult,
    resourceType: NullableString,
    resourceId: Type.Union([Type.String(), Type.Null()], { description: 'The session, for session events' }),
    userAgent: NullableString,
    metadata: Type.Record(Type.String(), Type.Unknown(), { description: 'e.g. the reason of a failure' }),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'SecurityEvent', additionalProperties: false },
);
export type SecurityEvent = Static<typeof SecurityEvent>;

export const SecurityEventListQuery = Type.Object(Page, { additionalProperties: false });
export const SecurityEventList = Type.Object({ items: Type.Array(SecurityEvent), nextCursor: NullableString }, { additionalProperties: false });

/** A page of a list, newest first: `next` is the key of its last item when more follow. */
export interface EventPage<T> {
  items: T[];
  next: [string, string] | null;
}
