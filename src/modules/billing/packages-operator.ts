// `npm run billing:packages -- [--set <id> --name "…" --credits N --price MINOR --currency usd [--sort N]] [--deactivate <id>]`:
// the operator's way to change the catalogue (DATABASE_URL = the pigeon_owner connection:
// the run-time roles can only read it). A price change never touches existing purchases,
// which copied credits, price and currency when they were made. Without flags: lists.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { flagReader } from '../../lib/cli-args.js';

export type PackageCommand =
  | { action: 'list' }
  | { action: 'set'; id: string; name: string; credits: number; amountMinor: number; currency: string; sortOrder: number }
  | { action: 'deactivate'; id: string };

export function parsePackageArgs(argv: string[]): PackageCommand {
  const value = flagReader(argv);
  const deactivate = value('deactivate');
  if (deactivate) return { action: 'deactivate', id: deactivate };
  const id = value('set');
  if (!id) return { action: 'list' };
  const credits = Number(value('credits'));
  const amountMinor = Number(value('price'));
  const currency = (value('currency') ?? '').toLowerCase();
  const name = value('name');
  if (!/^[a-z0-9][a-z0-9_-]{0,39}$/.test(id)) throw new Error('--set <id>: lower-case letters, digits, - and _ (at most 40)');
  if (!name) throw new Error('--name "<shown to shops>" is required');
  if (!Number.isSafeInteger(credits) || credits <= 0) throw new Error('--credits <positive integer> is required');
  if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0) throw new Error('--price <minor units, e.g. cents> is required');
  if (!/^[a-z]{3}$/.test(currency)) throw new Error('--currency <ISO 4217, e.g. usd> is required');
  return { action: 'set', id, name, credits, amountMinor, currency, sortOrder: Number(value('sort') ?? 0) || 0 };
}

export async function runPackageCommand(db: Db, command: PackageCommand) {
  if (command.action === 'set') {
    await sql`insert into app.credit_packages (id, name, credits, amount_minor, currency, sort_order, active)
              values (${command.id}, ${command.name}, ${command.credits}, ${command.amountMinor}, ${command.currency}, ${command.sortOrder}, true)
              on conflict (id) do update set name = excluded.name, credits = excluded.credits, amount_minor = excluded.amount_minor,
                currency = excluded.currency, sort_order = excluded.sort_order, active = true, updated_at = now()`.execute(db);
  }
  if (command.action === 'deactivate') {
    const result = await sql`update app.credit_packages set active = false, updated_at = now() where id = ${command.id}`.execute(db);
    if (Number(result.numAffectedRows ?? 0) === 0) throw new Error(`no package ${command.id}`);
  }
  const { rows } = await sql<{ id: string; name: string; credits: number; amount_minor: string; currency: string; active: boolean }>`
    select id, name, credits, amount_minor, currency, active from app.credit_packages order by sort_order, id`.execute(db);
  return rows.map((r) => ({ id: r.id, name: r.name, credits: r.credits, price: Number(r.amount_minor), currency: r.currency, active: r.active }));
}
