// A segment is a saved filter over a shop's contacts: a JSON rule tree of all/any groups
// and conditions. The TypeBox schema below is the whole language: a field, operator or
// value shape it does not list is a 400 before anything is compiled, and compile.ts turns
// a valid tree into parameterised SQL (values are always bind parameters, never text).
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export const MAX_DEPTH = 5;
export const MAX_CONDITIONS = 50;

const ConsentValue = Type.Union([Type.Literal('subscribed'), Type.Literal('unsubscribed'), Type.Literal('never')]);
const Tag = Type.String({ minLength: 1, maxLength: 64 });
const Country = Type.String({ pattern: '^[A-Z]{2}$' });
const DateField = Type.Union([
  Type.Literal('created_at'),
  Type.Literal('updated_at'),
  Type.Literal('consent_updated_at'),
  Type.Literal('last_ordered_at'),
  Type.Literal('last_clicked_at'),
]);
const AttributeKey = Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' });
// Number first: with Ajv type coercion on, a union tries its members in order.
const Scalar = Type.Union([Type.Number(), Type.Boolean(), Type.String({ maxLength: 256 })]);

const strict = { additionalProperties: false } as const;

export const Condition = Type.Union([
  Type.Object({ field: Type.Literal('consent'), op: Type.Union([Type.Literal('eq'), Type.Literal('neq')]), value: ConsentValue }, strict),
  Type.Object({ field: Type.Literal('tags'), op: Type.Union([Type.Literal('has'), Type.Literal('not_has')]), value: Tag }, strict),
  Type.Object(
    { field: Type.Literal('tags'), op: Type.Union([Type.Literal('has_any'), Type.Literal('has_all'), Type.Literal('has_none')]), value: Type.Array(Tag, { minItems: 1, maxItems: 50 }) },
    strict,
  ),
  Type.Object({ field: Type.Literal('country'), op: Type.Union([Type.Literal('eq'), Type.Literal('neq')]), value: Country }, strict),
  Type.Object({ field: Type.Literal('country'), op: Type.Union([Type.Literal('in'), Type.Literal('not_in')]), value: Type.Array(Country, { minItems: 1, maxItems: 250 }) }, strict),
  Type.Object({ field: DateField, op: Type.Union([Type.Literal('before'), Type.Literal('after')]), value: Type.String({ format: 'date-time' }) }, strict),
  Type.Object({ field: DateField, op: Type.Union([Type.Literal('within_days'), Type.Literal('older_than_days')]), value: Type.Integer({ minimum: 0, maximum: 36500 }) }, strict),
  Type.Object({ field: DateField, op: Type.Union([Type.Literal('is_set'), Type.Literal('is_not_set')]) }, strict),
  Type.Object({ field: Type.Literal('email'), op: Type.Union([Type.Literal('is_set'), Type.Literal('is_not_set')]) }, strict),
  Type.Object({ field: Type.Literal('attribute'), key: AttributeKey, op: Type.Union([Type.Literal('is_set'), Type.Literal('is_not_set')]) }, strict),
  Type.Object({ field: Type.Literal('attribute'), key: AttributeKey, op: Type.Union([Type.Literal('eq'), Type.Literal('neq')]), value: Scalar }, strict),
  Type.Object({ field: Type.Literal('attribute'), key: AttributeKey, op: Type.Union([Type.Literal('gt'), Type.Literal('gte'), Type.Literal('lt'), Type.Literal('lte')]), value: Type.Number() }, strict),
  Type.Object({ field: Type.Literal('attribute'), key: AttributeKey, op: Type.Literal('contains'), value: Type.String({ minLength: 1, maxLength: 256 }) }, strict),
]);
export type Condition = Static<typeof Condition>;

export const Rule = Type.Recursive(
  (Self: TSchema) =>
    Type.Union([
      Type.Object({ all: Type.Array(Self, { minItems: 1, maxItems: MAX_CONDITIONS }) }, strict),
      Type.Object({ any: Type.Array(Self, { minItems: 1, maxItems: MAX_CONDITIONS }) }, strict),
      Type.Object({ not: Self }, strict),
      Condition,
    ]),
  { $id: 'SegmentRule' },
);
export type Rule = { all: Rule[] } | { any: Rule[] } | { not: Rule } | Condition;

/** Limits a schema cannot express: nesting depth and the total number of conditions. */
export function ruleComplexity(rule: Rule, depth = 1): { depth: number; conditions: number } {
  if ('all' in rule || 'any' in rule) {
    const children = 'all' in rule ? rule.all : rule.any;
    return children.reduce(
      (acc, child) => {
        const c = ruleComplexity(child, depth + 1);
        return { depth: Math.max(acc.depth, c.depth), conditions: acc.conditions + c.conditions };
      },
      { depth, conditions: 0 },
    );
  }
  if ('not' in rule) return ruleComplexity(rule.not, depth + 1);
  return { depth, conditions: 1 };
}
