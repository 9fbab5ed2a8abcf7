// Stores a paid purchase's receipt URL. See src/modules/billing/receipt.ts.
import type { Task } from 'graphile-worker';
import { parseJob } from '../src/jobs/catalogue.js';
import { fetchReceipt } from '../src/modules/billing/receipt.js';
import { workerDb, workerStripe } from '../src/worker-context.js';

const billing_purchase_receipt: Task = async (payload) => {
  const { shopId, purchaseId } = parseJob('billing_purchase_receipt', payload);
  const stripe = workerStripe();
  if (!stripe) return; // no Stripe configured: nothing to ask (the purchase shows no receipt)
  await fetchReceipt(workerDb(), stripe, shopId, purchaseId);
};

export default billing_purchase_receipt;
