// A shop's sender numbers: which it may send from, and the operator's assign and release.
// Only the worker role writes them (operator commands); shops read them.
import { sql } from 'kysely';
import type { Tx } from '../../db/with-shop.js';
import { AppError } from '../../lib/app-error.js';
import { recordAuditEvent } from '../audit/service.js';
import type { SenderNumber } from './schemas.js';

const iso = (d: Date | string | null) => (d ? new Date(d).toISOString() : null);

export async function listSenderNumbers(tx: Tx, shopId: string): Promise<SenderNumber[]> {
  const rows = await tx
    .selectFrom('app.sender_numbers')
    .select(['id', 'phone_e164', 'status', 'assigned_at', 'released_at', 'quarantined_until'])
    .where('shop_id', '=', shopId)
    .orderBy('status')
    .orderBy('assigned_at')
    .execute();
  return rows.map((r) => ({
    id: r.id,
    number: r.phone_e164,
    status: r.status,
    assignedAt: iso(r.assigned_at)!,
    releasedAt: iso(r.released_at),
    quarantinedUntil: iso(r.quarantined_until),
  }));
}

/**
 * The number a shop's messages go out from: its longest-held active number, so replies keep
 * arriving on the number contacts already know. Null: the shop has none and cannot send.
 */
export async function activeSenderNumber(tx: Tx, shopId: string): Promise<string | null> {
  const row = await tx
    .selectFrom('app.sender_numbers')
    .select('phone_e164')
    .where('shop_id', '=', shopId)
    .where('status', '=', 'active')
    .orderBy('assigned_at')
    .limit(1)
    .executeTakeFirst();
  return row?.phone_e164 ?? null;
}

export class SenderNumberUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SenderNumberUnavailableError';
  }
}

export interface AssignInput {
  number: string;
  providerNumberId?: string | null;
  operator?: string | null;
  quarantineDays: number;
}

/**
 * Gives `number` to the shop (audited). Refused when another shop holds it, or released it
 * less than the quarantine ago: replies to it would otherwise land in the wrong shop.
 */
export async function assignSenderNumber(tx: Tx, shopId: string, input: AssignInput): Promise<{ id: string; alreadyAssigned: boolean }> {
  if (!/^\+[1-9][0-9]{6,14}$/.test(input.number)) throw new AppError(400, 'INVALID_PHONE', 'The number must be E.164 (+ and 7 to 15 digits)');
  const { rows } = await sql<{ shop_id: string; status: string; quarantined_until: Date | null }>`
    select shop_id, status, quarantined_until from app_private.sender_number_holder(${input.number})`.execute(tx);
  const holder = rows[0];
  if (holder?.status === 'active') {
    if (holder.shop_id !== shopId) throw new SenderNumberUnavailableError('the number is assigned to another shop');
    const mine = await tx.selectFrom('app.sender_numbers').select('id').where('shop_id', '=', shopId).where('phone_e164', '=', input.number).where('status', '=', 'active').executeTakeFirstOrThrow();
    return { id: mine.id, alreadyAssigned: true };
  }
  if (holder && holder.shop_id !== shopId && holder.quarantined_until && new Date(holder.quarantined_until) > new Date()) {
    throw new SenderNumberUnavailableError(`the number was released by another shop and is quarantined until ${new Date(holder.quarantined_until).toISOString()}`);
  }
  let id: string;
  try {
    ({ id } = await tx
      .insertInto('app.sender_numbers')
      .values({ shop_id: shopId, phone_e164: input.number, provider_number_id: input.providerNumberId ?? null })
      .returning('id')
      .executeTakeFirstOrThrow());
  } catch (error) {
    // Another assignment of the same number won the race.
    if ((error as { code?: string }).code === '23505') throw new SenderNumberUnavailableError('the number is assigned to another shop');
    throw error;
  }
  await recordAuditEvent(tx, {
    shopId,
    action: 'sender_number.assign',
    resourceType: 'sender_number',
    resourceId: id,
    result: 'success',
    metadata: { number: input.number, providerNumberId: input.providerNumberId ?? null, operator: input.operator ?? null },
  });
  return { id, alreadyAssigned: false };
}

/** Releases the shop's active `number` into quarantine (audited). Returns its provider id, if bought. */
export async function releaseSenderNumber(tx: Tx, shopId: string, input: { number: string; operator?: string | null; quarantineDays: number }): Promise<{ id: string; providerNumberId: string | null; quarantinedUntil: Date }> {
  const now = new Date();
  const quarantinedUntil = new Date(now.getTime() + input.quarantineDays * 86_400_000);
  const row = await tx
    .updateTable('app.sender_numbers')
    .set({ status: 'released', released_at: now, quarantined_until: quarantinedUntil })
    .where('shop_id', '=', shopId)
    .where('phone_e164', '=', input.number)
    .where('status', '=', 'active')
    .returning(['id', 'provider_number_id'])
    .executeTakeFirst();
  if (!row) throw new SenderNumberUnavailableError('the shop holds no such active number');
  await recordAuditEvent(tx, {
    shopId,
    action: 'sender_number.release',
    resourceType: 'sender_number',
    resourceId: row.id,
    result: 'success',
    metadata: { number: input.number, quarantinedUntil: quarantinedUntil.toISOString(), operator: input.operator ?? null },
  });
  return { id: row.id, providerNumberId: row.provider_number_id, quarantinedUntil };
}
