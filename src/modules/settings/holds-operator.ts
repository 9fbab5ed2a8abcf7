// `npm run sending:holds -- --shop <id> [--lift <hold> --reason "…"]`: a shop's sending
// holds (a refund that took back credits already spent, a lost dispute) are lifted by an
// operator, never by the shop; audited. Without --lift: lists them. DATABASE_URL = the
// pigeon_worker connection.
import type { Db } from '../../db/kysely.js';
import { withShop } from '../../db/with-shop.js';
import { systemActor } from '../../lib/actor.js';
import { audit } from '../audit/service.js';
import { removeSendingHold } from './service.js';
import { flagReader, requiredShopId } from '../../lib/cli-args.js';

export interface HoldArgs {
  shopId: string;
  lift?: string | undefined;
  reason?: string | undefined;
  operator?: string | undefined;
}

export function parseHoldArgs(argv: string[]): HoldArgs {
  const value = flagReader(argv);
  const shopId = requiredShopId(value);
  const lift = value('lift');
  const reason = value('reason');
  if (lift && (!reason || reason.trim().length < 3)) throw new Error('--reason "<why>" is required with --lift');
  return { shopId, lift, reason: reason?.trim(), operator: value('operator') };
}

export async function sendingHoldsCommand(db: Db, args: HoldArgs): Promise<{ holds: string[]; lifted: boolean }> {
  return withShop(db, args.shopId, async (tx) => {
    let lifted = false;
    if (args.lift) {
      lifted = await removeSendingHold(tx, args.shopId, args.lift);
      if (!lifted) throw new Error(`the shop has no hold ${args.lift}`);
      await audit(tx, systemActor(args.shopId), {
        action: 'settings.sending_hold_lifted',
        resourceType: 'shop',
        resourceId: args.shopId,
        result: 'success',
        metadata: { hold: args.lift, reason: args.reason ?? null, operator: args.operator ?? null },
      });
    }
    const row = await tx.selectFrom('app.shop_settings').select('sending_holds').where('shop_id', '=', args.shopId).executeTakeFirst();
    if (!row) throw new Error('no such shop');
    return { holds: row.sending_holds, lifted };
  });
}
