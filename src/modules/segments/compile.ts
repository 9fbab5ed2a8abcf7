// Rule tree → one parameterised SQL boolean over a contacts row. Every value is a bind
// parameter; column and operator text comes only from the fixed tables below, chosen by a
// field or op that the schema (rules.ts) already restricted to known literals. The result
// goes into `where` of a count, a page of contacts, or the campaign enqueue's INSERT … SELECT:
// the same code decides who is in a segment everywhere.
import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Condition, Rule } from './rules.js';

const DATE_COLUMNS = {
  created_at: 'created_at',
  updated_at: 'updated_at',
  consent_updated_at: 'consent_updated_at',
  last_ordered_at: 'last_ordered_at',
  last_clicked_at: 'last_clicked_at',
} as const;

const COMPARISONS = { gt: '>', gte: '>=', lt: '<', lte: '<=' } as const;

export class SegmentCompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SegmentCompileError';
  }
}

/** The SQL for `rule` over the contacts row aliased `alias`. */
export function compileRule(rule: Rule, alias = 'c'): RawBuilder<SqlBool> {
  const col = (name: string) => sql.ref(`${alias}.${name}`);
  const walk = (node: Rule): RawBuilder<SqlBool> => {
    if ('all' in node) return sql<SqlBool>`(${sql.join(node.all.map(walk), sql` and `)})`;
    if ('any' in node) return sql<SqlBool>`(${sql.join(node.any.map(walk), sql` or `)})`;
    if ('not' in node) return sql<SqlBool>`(not coalesce(${walk(node.not)}, false))`;
    return condition(node, col);
  };
  return walk(rule);
}

function condition(c: Condition, col: (name: string) => ReturnType<typeof sql.ref>): RawBuilder<SqlBool> {
  switch (c.field) {
    case 'consent':
      return c.op === 'eq' ? sql<SqlBool>`${col('consent_state')} = ${c.value}` : sql<SqlBool>`${col('consent_state')} <> ${c.value}`;
    case 'tags': {
      // Array operators that the GIN index on tags serves.
      if (c.op === 'has') return sql<SqlBool>`${col('tags')} @> array[${c.value}]::text[]`;
      if (c.op === 'not_has') return sql<SqlBool>`not (${col('tags')} @> array[${c.value}]::text[])`;
      const values = sql`${c.value}::text[]`;
      if (c.op === 'has_any') return sql<SqlBool>`${col('tags')} && ${values}`;
      if (c.op === 'has_all') return sql<SqlBool>`${col('tags')} @> ${values}`;
      return sql<SqlBool>`not (${col('tags')} && ${values})`;
    }
    case 'country':
      if (c.op === 'eq') return sql<SqlBool>`${col('country')} = ${c.value}`;
      if (c.op === 'neq') return sql<SqlBool>`${col('country')} is distinct from ${c.value}`;
      if (c.op === 'in') return sql<SqlBool>`${col('country')} = any(${c.value}::text[])`;
      return sql<SqlBool>`not (coalesce(${col('country')}, '') = any(${c.value}::text[]))`;
    case 'email':
      return c.op === 'is_set' ? sql<SqlBool>`${col('email')} is not null` : sql<SqlBool>`${col('email')} is null`;
    case 'attribute': {
      const value = sql`${col('attributes')} -> ${c.key}::text`;
      switch (c.op) {
        case 'is_set':
          return sql<SqlBool>`${col('attributes')} ? ${c.key}::text`;
        case 'is_not_set':
          return sql<SqlBool>`not (${col('attributes')} ? ${c.key}::text)`;
        case 'eq':
          return sql<SqlBool>`${value} = ${JSON.stringify(c.value)}::jsonb`;
        case 'neq':
          return sql<SqlBool>`${value} is distinct from ${JSON.stringify(c.value)}::jsonb`;
        case 'contains':
          // Substring, case-insensitive, of a string attribute; the pattern's own % and _ are escaped.
          return sql<SqlBool>`(jsonb_typeof(${value}) = 'string' and (${col('attributes')} ->> ${c.key}::text) ilike ${`%${c.value.replace(/[\\%_]/g, (m) => `\\${m}`)}%`})`;
        default: {
          // Only numbers compare; anything else is simply not in the segment (never a cast error).
          const operator = sql.raw(COMPARISONS[c.op]);
          return sql<SqlBool>`(case when jsonb_typeof(${value}) = 'number' then (${value})::numeric ${operator} ${c.value}::numeric else false end)`;
        }
      }
    }
    default: {
      const column = col(DATE_COLUMNS[c.field]);
      switch (c.op) {
        case 'before':
          return sql<SqlBool>`${column} < ${c.value}::timestamptz`;
        case 'after':
          return sql<SqlBool>`${column} > ${c.value}::timestamptz`;
        case 'within_days':
          return sql<SqlBool>`${column} >= now() - make_interval(days => ${c.value})`;
        case 'older_than_days':
          return sql<SqlBool>`${column} < now() - make_interval(days => ${c.value})`;
        case 'is_set':
          return sql<SqlBool>`${column} is not null`;
        case 'is_not_set':
          return sql<SqlBool>`${column} is null`;
      }
    }
  }
  throw new SegmentCompileError('unknown condition');
}
