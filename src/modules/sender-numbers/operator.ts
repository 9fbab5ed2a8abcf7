// Operator commands for sender numbers (never HTTP routes; the worker role runs them):
//   npm run numbers:assign -- --shop <id> --number <e164>        a number the operator holds
//   npm run numbers:assign -- --shop <id> --buy [--country US]    bought through the provider's number API
//   npm run numbers:release -- --shop <id> --number <e164> [--give-back]
// A number bought here and then refused (another shop took it first) goes back to the
// provider, so a failed command leaves nothing paid for and unassigned.
import type { Db } from '../../db/kysely.js';
import { withShop } from '../../db/with-shop.js';
import type { SmsClient } from '../../providers/sms/client.js';
import { assignSenderNumber, releaseSenderNumber } from './service.js';
import { flagReader, requiredShopId } from '../../lib/cli-args.js';

export interface NumberCommandArgs {
  shopId: string;
  number?: string | undefined;
  buy: boolean;
  country: string;
  giveBack: boolean;
  operator?: string | undefined;
}

export function parseNumberArgs(argv: string[]): NumberCommandArgs {
  const value = flagReader(argv);
  const shopId = requiredShopId(value);
  const number = value('number');
  if (number !== undefined && !/^\+[1-9][0-9]{6,14}$/.test(number)) throw new Error('--number must be E.164, e.g. +12025550123');
  const country = value('country') ?? 'US';
  if (!/^[A-Z]{2}$/.test(country)) throw new Error('--country must be an ISO 3166 alpha-2 code, e.g. US');
  return { shopId, number, buy: argv.includes('--buy'), country, giveBack: argv.includes('--give-back'), operator: value('operator') };
}

async function shopExists(db: Db, shopId: string): Promise<void> {
  const shop = await withShop(db, shopId, (tx) => tx.selectFrom('app.shops').select('id').where('id', '=', shopId).executeTakeFirst());
  if (!shop) throw new Error('no such shop');
}

export async function assignNumberCommand(db: Db, sms: () => SmsClient, args: NumberCommandArgs, quarantineDays: number) {
  await shopExists(db, args.shopId);
  if (!args.buy) {
    if (!args.number) throw new Error('give --number <e164> or --buy');
    const number = args.number;
    const result = await withShop(db, args.shopId, (tx) => assignSenderNumber(tx, args.shopId, { number, operator: args.operator ?? null, quarantineDays }));
    return { number, providerNumberId: null, ...result };
  }
  const client = sms();
  const number = args.number ?? (await client.availableNumbers(args.country))[0];
  if (!number) throw new Error(`the provider offers no number in ${args.country}`);
  const bought = await client.purchaseNumber(number);
  try {
    const result = await withShop(db, args.shopId, (tx) =>
      assignSenderNumber(tx, args.shopId, { number, providerNumberId: bought.providerNumberId, operator: args.operator ?? null, quarantineDays }),
    );
    return { number, providerNumberId: bought.providerNumberId, ...result };
  } catch (error) {
    await client.releaseNumber(bought.providerNumberId).catch(() => {});
    throw error;
  }
}

export async function releaseNumberCommand(db: Db, sms: () => SmsClient, args: NumberCommandArgs, quarantineDays: number) {
  if (!args.number) throw new Error('--number <e164> is required');
  const number = args.number;
  const released = await withShop(db, args.shopId, (tx) => releaseSenderNumber(tx, args.shopId, { number, operator: args.operator ?? null, quarantineDays }));
  // Giving a bought number back to the provider ends our hold on it: replies then reach
  // whoever gets it next, so it is only done on request.
  if (args.giveBack && released.providerNumberId) await sms().releaseNumber(released.providerNumberId);
  return { number, ...released, quarantinedUntil: released.quarantinedUntil.toISOString(), givenBack: args.giveBack && released.providerNumberId !== null };
}
