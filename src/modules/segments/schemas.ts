// The segment domain's shapes: each is the route's schema and, through Static, the type the
// operations take and return.
import { Type, type Static } from '@sinclair/typebox';
import { Rule, type Rule as RuleTree } from './rules.js';

export const Segment = Type.Object(
  { id: Type.String({ format: 'uuid' }), name: Type.String(), rule: Rule, createdAt: Type.String({ format: 'date-time' }), updatedAt: Type.String({ format: 'date-time' }) },
  { additionalProperties: false },
);
export type Segment = Omit<Static<typeof Segment>, 'rule'> & { rule: RuleTree };

const Name = Type.String({ minLength: 1, maxLength: 200 });
export const SegmentInput = Type.Object({ name: Name, rule: Rule }, { additionalProperties: false });
// The rule tree is recursive (a $ref), which Static types as unknown below the top: the
// operations take the tree as rules.ts types it.
export type SegmentInput = Omit<Static<typeof SegmentInput>, 'rule'> & { rule: RuleTree };
export const SegmentPatch = Type.Object({ name: Type.Optional(Name), rule: Type.Optional(Rule) }, { additionalProperties: false });
export type SegmentPatch = Omit<Static<typeof SegmentPatch>, 'rule'> & { rule?: RuleTree };

export const SegmentParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });
export const SegmentListQuery = Type.Object(
  { limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }), cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })) },
  { additionalProperties: false },
);
export const SegmentList = Type.Object({ items: Type.Array(Segment), nextCursor: Type.Union([Type.String(), Type.Null()]) }, { additionalProperties: false });
export const SegmentCount = Type.Object({ contacts: Type.Integer(), subscribed: Type.Integer() }, { additionalProperties: false });
export type SegmentCount = Static<typeof SegmentCount>;
