// Segments: saved rule trees, and the audience they select. `audienceWhere` is the one
// definition of "who is in this audience", used by counts, previews and the campaign
// enqueue's INSERT … SELECT alike.
import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { afterCreatedAtId } from '../../lib/cursor.js';
import { compileRule } from './compile.js';
import { MAX_CONDITIONS, MAX_DEPTH, ruleComplexity, type Rule } from './rules.js';
import type { Segment, SegmentCount, SegmentInput, SegmentPatch } from './schemas.js';
import type { Actor } from '../../lib/actor.js';

type Row = { id: string; name: string; rule: unknown; created_at: Date; updated_at: Date };
const view = (r: Row): Segment => ({ id: r.id, name: r.name, rule: r.rule as Rule, createdAt: new Date(r.created_at).toISOString(), updatedAt: new Date(r.updated_at).toISOString() });

/** Limits beyond the schema: nesting and total conditions (a huge tree is a slow query). */
export function assertRuleWithinLimits(rule: Rule): void {
  const { depth, conditions } = ruleComplexity(rule);
  if (depth > MAX_DEPTH) throw new AppError(400, 'RULE_TOO_DEEP', `A rule may nest at most ${MAX_DEPTH} levels`, { field: 'body.rule' });
  if (conditions > MAX_CONDITIONS) throw new AppError(400, 'RULE_TOO_LARGE', `A rule may have at most ${MAX_CONDITIONS} conditions`, { field: 'body.rule' });
}

/**
 * Contacts of the audience, over `app.contacts` aliased `alias`: live (not deleted), in
 * the shop, and matching the rule (null: every live contact). Consent for sending is the
 * caller's extra condition: a segment may well select unsubscribed contacts to look at.
 */
export function audienceWhere(shopId: string, rule: Rule | null, alias = 'c'): RawBuilder<SqlBool> {
  const base = sql<SqlBool>`${sql.ref(`${alias}.shop_id`)} = ${shopId} and ${sql.ref(`${alias}.deleted_at`)} is null`;
  return rule ? sql<SqlBool>`(${base} and coalesce(${compileRule(rule, alias)}, false))` : sql<SqlBool>`(${base})`;
}

const columns = ['id', 'name', 'rule', 'created_at', 'updated_at'] as const;

export const segmentNotFound = () => new AppError(404, 'NOT_FOUND', 'Segment not found');

export async function createSegment(tx: Tx, actor: Actor, input: SegmentInput): Promise<Segment> {
  assertRuleWithinLimits(input.rule);
  const row = await tx
    .insertInto('app.segments')
    .values({ shop_id: actor.shopId, name: input.name, rule: JSON.stringify(input.rule), created_by: actor.userId })
    .returning(columns)
    .executeTakeFirstOrThrow();
  return view(row);
}

/** One segment; another shop's (or no) segment is a 404. */
export async function getSegment(tx: Tx, shopId: string, id: string): Promise<Segment> {
  const row = await tx.selectFrom('app.segments').select(columns).where('shop_id', '=', shopId).where('id', '=', id).executeTakeFirst();
  if (!row) throw segmentNotFound();
  return view(row);
}

export async function listSegments(tx: Tx, shopId: string, page: { limit: number; after: [string, string] | null }) {
  let query = tx
    .selectFrom('app.segments')
    .select(columns)
    .select(sql<string>`created_at::text`.as('created_at_text'))
    .where('shop_id', '=', shopId)
    .orderBy('created_at')
    .orderBy('id')
    .limit(page.limit + 1);
  if (page.after) query = query.where(afterCreatedAtId(page.after, '>'));
  const rows = await query.execute();
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return { items: items.map(view), next: rows.length > page.limit && last ? ([last.created_at_text, last.id] as [string, string]) : null };
}

export async function updateSegment(tx: Tx, shopId: string, id: string, patch: SegmentPatch): Promise<Segment> {
  if (patch.rule) assertRuleWithinLimits(patch.rule);
  const set: { name?: string; rule?: string } = {};
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.rule !== undefined) set.rule = JSON.stringify(patch.rule);
  if (Object.keys(set).length === 0) return getSegment(tx, shopId, id);
  const row = await tx.updateTable('app.segments').set(set).where('shop_id', '=', shopId).where('id', '=', id).returning(columns).executeTakeFirst();
  if (!row) throw segmentNotFound();
  return view(row);
}

export async function deleteSegment(tx: Tx, shopId: string, id: string): Promise<void> {
  const result = await tx.deleteFrom('app.segments').where('shop_id', '=', shopId).where('id', '=', id).executeTakeFirst();
  if (result.numDeletedRows === 0n) throw segmentNotFound();
}

/** How many live contacts segment `id` selects now, and how many of them are subscribed. */
export async function countSegmentById(tx: Tx, shopId: string, id: string): Promise<SegmentCount> {
  return countSegment(tx, shopId, (await getSegment(tx, shopId, id)).rule);
}

/** How many contacts the rule selects now, and how many of them may be texted. */
export async function countSegment(tx: Tx, shopId: string, rule: Rule): Promise<SegmentCount> {
  const { rows } = await sql<{ contacts: string; subscribed: string }>`
    select count(*) as contacts, count(*) filter (where c.consent_state = 'subscribed') as subscribed
      from app.contacts c
     where ${audienceWhere(shopId, rule, 'c')}`.execute(tx);
  return { contacts: Number(rows[0]?.contacts ?? 0), subscribed: Number(rows[0]?.subscribed ?? 0) };
}

/** Whether the shop has this segment (another module's reference check). */
export async function segmentExists(tx: Tx, shopId: string, segmentId: string): Promise<boolean> {
  return (await tx.selectFrom('app.segments').select('id').where('shop_id', '=', shopId).where('id', '=', segmentId).executeTakeFirst()) !== undefined;
}

/** A segment's rule, for an audience; another shop's (or no) segment is a 404. */
export async function segmentRuleOf(tx: Tx, shopId: string, segmentId: string): Promise<Rule> {
  const row = await tx.selectFrom('app.segments').select('rule').where('shop_id', '=', shopId).where('id', '=', segmentId).executeTakeFirst();
  if (!row) throw new AppError(404, 'SEGMENT_NOT_FOUND', 'Segment not found');
  return row.rule as Rule;
}
