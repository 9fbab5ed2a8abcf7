// The wallet and its ledger. All writes go through app_private.apply_credit_entry (one
// entry) and app_private.debit_recipients (a send batch): the run-time roles cannot write
// the tables themselves, so no code path can move credits without a ledger row.
import { sql, type SqlBool } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';

import type { CreditEntryKind, Wallet, WalletEntry } from './schemas.js';

export type { CreditEntryKind };

export interface CreditEntryInput {
  shopId: string;
  kind: CreditEntryKind;
  /** Positive; for an adjustment, signed. */
  credits: number;
  idempotencyKey: string;
  referenceType?: string;
  referenceId?: string;
  reason?: string;
  actorId?: string | null;
}

export interface AppliedEntry {
  entryId: string;
  replayed: boolean;
  balance: number;
  reserved: number;
}

export async function applyCreditEntry(tx: Tx, entry: CreditEntryInput): Promise<AppliedEntry> {
  if (!Number.isSafeInteger(entry.credits)) throw new AppError(400, 'INVALID_CREDITS', 'credits must be an integer');
  const { rows } = await sql<{ entry_id: string; replayed: boolean; balance: string; reserved: string }>`
    select entry_id, replayed, balance, reserved from app_private.apply_credit_entry(
      ${entry.kind}::app.credit_entry_kind, ${entry.credits}::bigint, ${entry.idempotencyKey},
      ${entry.referenceType ?? null}, ${entry.referenceId ?? null}, ${entry.reason ?? null}, ${entry.actorId ?? null}::uuid)`.execute(tx);
  const row = rows[0]!;
  return { entryId: String(row.entry_id), replayed: row.replayed, balance: Number(row.balance), reserved: Number(row.reserved) };
}

/** A send batch's debits (one ledger entry per recipient, one wallet update); returns what was debited now. */
export async function debitRecipients(tx: Tx, campaignId: string, entries: Array<{ recipientId: string; credits: number }>): Promise<number> {
  if (entries.length === 0) return 0;
  const { rows } = await sql<{ debited: string }>`
    select app_private.debit_recipients(${campaignId}::uuid, ${entries.map((e) => e.recipientId)}::bigint[], ${entries.map((e) => e.credits)}::int[]) as debited`.execute(tx);
  return Number(rows[0]?.debited ?? 0);
}

export async function getWallet(tx: Tx, shopId: string): Promise<Wallet> {
  const row = await tx.selectFrom('app.wallets').select(['balance', 'reserved']).where('shop_id', '=', shopId).executeTakeFirst();
  const balance = Number(row?.balance ?? 0);
  const reserved = Number(row?.reserved ?? 0);
  return { balance, reserved, available: balance - reserved };
}

export async function listTransactions(tx: Tx, shopId: string, page: { limit: number; after: string | null; kind?: CreditEntryKind | undefined }): Promise<{ items: WalletEntry[]; next: string | null }> {
  let query = tx
    .selectFrom('app.credit_ledger')
    .selectAll()
    .where('shop_id', '=', shopId)
    .orderBy('id', 'desc')
    .limit(page.limit + 1);
  if (page.kind) query = query.where('kind', '=', page.kind);
  if (page.after) {
    if (!/^\d{1,19}$/.test(page.after)) throw new AppError(400, 'INVALID_CURSOR', 'The cursor is not valid', { field: 'querystring.cursor' });
    query = query.where(sql<SqlBool>`id < ${page.after}::bigint`);
  }
  const rows = await query.execute();
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return {
    items: items.map((r) => ({
      id: String(r.id),
      kind: r.kind,
      credits: Number(r.credits),
      balanceAfter: Number(r.balance_after),
      reservedAfter: Number(r.reserved_after),
      idempotencyKey: r.idempotency_key,
      referenceType: r.reference_type,
      referenceId: r.reference_id,
      reason: r.reason,
      actorId: r.actor_id,
      createdAt: new Date(r.created_at).toISOString(),
    })),
    next: rows.length > page.limit && last ? String(last.id) : null,
  };
}
