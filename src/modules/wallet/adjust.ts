// `npm run wallet:adjust -- --shop <id> --credits <n> --reason "<text>" [--idempotency-key <k>]`:
// an operator's manual correction, applied through the ledger and audited in the same
// transaction. Never an HTTP route.
import { randomUUID } from 'node:crypto';
import type { Db } from '../../db/kysely.js';
import { withShop } from '../../db/with-shop.js';
import { recordAuditEvent } from '../audit/service.js';
import { applyCreditEntry } from './service.js';
import { flagReader, requiredShopId } from '../../lib/cli-args.js';

export interface AdjustArgs {
  shopId: string;
  credits: number;
  reason: string;
  idempotencyKey?: string | undefined;
  operator?: string | undefined;
}

export function parseAdjustArgs(argv: string[]): AdjustArgs {
  const value = flagReader(argv);
  const shopId = requiredShopId(value);
  const credits = Number(value('credits'));
  const reason = value('reason');
  if (!Number.isSafeInteger(credits) || credits === 0) throw new Error('--credits <non-zero integer> is required');
  if (!reason || reason.trim().length < 3) throw new Error('--reason "<why>" is required');
  return { shopId, credits, reason: reason.trim(), idempotencyKey: value('idempotency-key'), operator: value('operator') };
}

export async function adjustWallet(db: Db, args: AdjustArgs) {
  const idempotencyKey = args.idempotencyKey ?? `adjustment:${randomUUID()}`;
  return withShop(db, args.shopId, async (tx) => {
    const shop = await tx.selectFrom('app.shops').select('id').where('id', '=', args.shopId).executeTakeFirst();
    if (!shop) throw new Error('no such shop');
    const entry = await applyCreditEntry(tx, { shopId: args.shopId, kind: 'adjustment', credits: args.credits, idempotencyKey, referenceType: 'operator', reason: args.reason });
    if (!entry.replayed) {
      await recordAuditEvent(tx, {
        shopId: args.shopId,
        action: 'wallet.adjust',
        resourceType: 'credit_ledger',
        resourceId: entry.entryId,
        result: 'success',
        metadata: { credits: args.credits, reason: args.reason, idempotencyKey, operator: args.operator ?? null },
      });
    }
    return { ...entry, idempotencyKey };
  });
}
