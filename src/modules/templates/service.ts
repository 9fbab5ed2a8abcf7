// The global template catalogue and this shop's use of it.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import type { Template, TemplateList } from './schemas.js';


function query(tx: Tx, shopId: string) {
  return tx
    .selectFrom('app.templates as t')
    .leftJoin('app.template_usage as u', (join) => join.onRef('u.template_id', '=', 't.id').on('u.shop_id', '=', shopId))
    .select(['t.id', 't.name', 't.category', 't.body', 'u.uses', 'u.last_used_at']);
}

type Row = { id: string; name: string; category: string; body: string; uses: number | null; last_used_at: Date | null };
const view = (r: Row): Template => ({ id: r.id, name: r.name, category: r.category, body: r.body, uses: r.uses ?? 0, lastUsedAt: r.last_used_at ? new Date(r.last_used_at).toISOString() : null });

export async function listTemplates(tx: Tx, shopId: string): Promise<TemplateList> {
  return { items: (await query(tx, shopId).orderBy('t.name').execute()).map(view), nextCursor: null };
}

export async function getTemplate(tx: Tx, shopId: string, id: string): Promise<Template> {
  const row = await query(tx, shopId).where('t.id', '=', id).executeTakeFirst();
  if (!row) throw new AppError(404, 'NOT_FOUND', 'Template not found');
  return view(row);
}

/** Counts a use of the template by this shop (a campaign created from it). */
export async function recordTemplateUse(tx: Tx, shopId: string, templateId: string): Promise<void> {
  await tx
    .insertInto('app.template_usage')
    .values({ shop_id: shopId, template_id: templateId, uses: 1, last_used_at: new Date() })
    .onConflict((oc) => oc.columns(['shop_id', 'template_id']).doUpdateSet({ uses: sql`app.template_usage.uses + 1`, last_used_at: new Date() }))
    .execute();
}

/** Whether the global catalogue has this template (another module's reference check). */
export async function templateExists(tx: Tx, templateId: string): Promise<boolean> {
  return (await tx.selectFrom('app.templates').select('id').where('id', '=', templateId).executeTakeFirst()) !== undefined;
}
