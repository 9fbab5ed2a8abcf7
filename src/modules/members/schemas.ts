// The members domain's shapes: each schema is the route's schema and, through Static, the
// operations' type.
import { Type, type Static } from '@sinclair/typebox';

export const MemberRole = Type.Union([Type.Literal('owner'), Type.Literal('admin'), Type.Literal('member')]);
export type MemberRole = Static<typeof MemberRole>;

export const Member = Type.Object(
  // email is null for a Shopify staff identity (signed in through the embedded app).
  { userId: Type.String(), email: Type.Union([Type.String(), Type.Null()]), role: MemberRole, locked: Type.Boolean(), createdAt: Type.String() },
  { additionalProperties: false },
);
export type Member = Static<typeof Member>;
// Staff lists are small (a shop has a handful of people): one page, nextCursor always null.
export const MemberList = Type.Object({ items: Type.Array(Member), nextCursor: Type.Null() }, { additionalProperties: false });

// A member's user id, or an invitation's id.
export const MemberParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

export const RoleChange = Type.Object({ role: MemberRole }, { additionalProperties: false });
export const RoleChanged = Type.Object({ userId: Type.String(), role: MemberRole }, { additionalProperties: false });
export type RoleChanged = Static<typeof RoleChanged>;

export const InvitationStatus = Type.Union([Type.Literal('pending'), Type.Literal('accepted'), Type.Literal('revoked'), Type.Literal('expired')]);
export const Invitation = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    email: Type.String(),
    role: MemberRole,
    createdAt: Type.String({ format: 'date-time' }),
    expiresAt: Type.String({ format: 'date-time' }),
    status: InvitationStatus,
  },
  { additionalProperties: false },
);
export type Invitation = Static<typeof Invitation>;
export const InvitationList = Type.Object({ items: Type.Array(Invitation), nextCursor: Type.Null() }, { additionalProperties: false });

export const InvitationInput = Type.Object({ email: Type.String({ format: 'email', minLength: 3, maxLength: 320 }), role: MemberRole }, { additionalProperties: false });
export type InvitationInput = Static<typeof InvitationInput>;

export const InvitationAcceptance = Type.Object({ token: Type.String({ pattern: '^[A-Za-z0-9_-]{43}$' }) }, { additionalProperties: false });
export const AcceptedInvitation = Type.Object({ shopId: Type.String({ format: 'uuid' }), role: MemberRole }, { additionalProperties: false });
export type AcceptedInvitation = Static<typeof AcceptedInvitation>;
