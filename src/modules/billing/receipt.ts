// A paid purchase's receipt URL: the webhook's session carries no charge, so a job reads the
// payment intent (with its latest charge) once the purchase is paid.
import type { Db } from '../../db/kysely.js';
import { readInShop, withShop } from '../../db/with-shop.js';
import type { StripeClient } from '../../providers/stripe.js';
import { findPurchase } from './purchases.js';

export async function fetchReceipt(db: Db, stripe: StripeClient, shopId: string, purchaseId: string): Promise<'stored' | 'none'> {
  const row = await readInShop(db, shopId, (tx) => findPurchase(tx, shopId, purchaseId));
  if (!row || row.receipt_url || !row.stripe_payment_intent_id) return 'none';
  const intent = await stripe.retrievePaymentIntent(row.stripe_payment_intent_id);
  if (!intent.receiptUrl) return 'none';
  await withShop(db, shopId, (tx) =>
    tx
      .updateTable('app.credit_purchases')
      .set({ receipt_url: intent.receiptUrl, updated_at: new Date() })
      .where('shop_id', '=', shopId)
      .where('id', '=', purchaseId)
      .where('receipt_url', 'is', null)
      .execute(),
  );
  return 'stored';
}
