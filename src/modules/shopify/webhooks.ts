// Shopify's webhooks, as two workflows:
//   receiveShopifyWebhook (the route, after the HMAC passed): ONE statement
//     (app_private.record_shopify_webhook, migration 0100) records the webhook by its
//     X-Shopify-Webhook-Id (a redelivery inserts nothing), resolves the shop from its domain
//     and, for a topic with a handler, adds its shopify_webhook_apply job; 200 at once.
//     Unknown or uninstalled shop: recorded as ignored and acknowledged (Shopify retries any
//     non-2xx for 48 hours; there is nothing a retry could change). A topic with no handler
//     yet is recorded as 'received' and gets no job: the handler added later picks such rows
//     up within their retention (8 days after triggered_at).
//   applyShopifyWebhook (the job): applies the webhook in its shop's transaction, which also
//     marks it applied (and erases its payload). Safe to run twice: a settled webhook is left alone.
import { sql } from 'kysely';
import type { Db } from '../../db/kysely.js';
import { withShop } from '../../db/with-shop.js';
import { systemActor } from '../../lib/actor.js';
import { uninstallShop } from './uninstall.js';
import { redactCustomer, redactShop } from './redact.js';
import { receiveDataRequest } from './data-request.js';
import { applyCustomerDeletion, applyCustomerWebhook } from './customers.js';
import { applyOrderWebhook } from './orders.js';
import type { Metrics } from '../../metrics.js';
import { settleShopifyPurchase } from '../billing/shopify-checkout.js';
import type { ShopifyPurchaser } from '../billing/shopify-purchaser.js';

export interface ApplyDependencies {
  /** Shopify's Billing API (app_purchases_one_time/update is read back through it). */
  shopifyPurchaser?: ShopifyPurchaser | null;
  /** Counts what the job did, by topic (only handled topics get a job). */
  metrics?: Metrics | undefined;
}

/** The AppPurchaseOneTime a purchase webhook names (its body is only a pointer: the purchase is read back). */
function purchaseIdOf(payload: Record<string, unknown>): string | null {
  const purchase = payload.app_purchase_one_time as { admin_graphql_api_id?: unknown } | undefined;
  const id = purchase?.admin_graphql_api_id;
  return typeof id === 'string' && /^gid:\/\/shopify\/AppPurchaseOneTime\/[0-9]{1,20}$/.test(id) ? id : null;
}

/** Topics Pigeon applies today; the others are recorded as 'received'. */
export const HANDLED_TOPICS: ReadonlySet<string> = new Set([
  'app/uninstalled',
  'app_purchases_one_time/update',
  'shop/redact',
  'customers/redact',
  'customers/data_request',
  'customers/create',
  'customers/update',
  'customers/delete',
  'orders/create',
]);

export interface ShopifyWebhookRecord {
  webhookId: string;
  topic: string;
  shopDomain: string;
  triggeredAt: Date;
  payload: Record<string, unknown>;
}

export type ReceiveOutcome = 'recorded' | 'received' | 'ignored' | 'duplicate';

export async function receiveShopifyWebhook(db: Db, record: ShopifyWebhookRecord): Promise<ReceiveOutcome> {
  const { rows } = await sql<{ fresh: boolean; status: string }>`
    select fresh, status from app_private.record_shopify_webhook(${record.webhookId}, ${record.topic}, ${record.shopDomain},
      ${record.triggeredAt}, ${JSON.stringify(record.payload)}::jsonb, ${HANDLED_TOPICS.has(record.topic)})`.execute(db);
  const row = rows[0];
  if (!row?.fresh) return 'duplicate';
  return row.status === 'pending' ? 'recorded' : row.status === 'received' ? 'received' : 'ignored';
}

interface StoredWebhook {
  webhook_id: string;
  topic: string;
  shop_id: string | null;
  triggered_at: Date;
  status: 'pending' | 'applied' | 'ignored' | 'received';
  payload: Record<string, unknown>;
}

export type ApplyOutcome = 'applied' | 'ignored' | 'already_settled';

export async function applyShopifyWebhook(db: Db, webhookId: string, dependencies: ApplyDependencies = {}): Promise<ApplyOutcome> {
  const { rows } = await sql<StoredWebhook>`
    select webhook_id, topic, shop_id, triggered_at, status, payload from app_private.shopify_webhook(${webhookId})`.execute(db);
  const webhook = rows[0];
  if (!webhook || webhook.status !== 'pending' || !webhook.shop_id) return 'already_settled';
  const shopId = webhook.shop_id;
  // A purchase update: read the purchase back from Shopify (outside any transaction) and
  // settle it through billing (credited once, keyed by the purchase); then settle the webhook.
  let purchaseNote: { outcome: ApplyOutcome; note: string | null } | null = null;
  if (webhook.topic === 'app_purchases_one_time/update') {
    const purchaseId = purchaseIdOf(webhook.payload);
    const purchaser = dependencies.shopifyPurchaser;
    if (!purchaseId) purchaseNote = { outcome: 'ignored', note: 'no AppPurchaseOneTime id in the body' };
    else if (!purchaser) throw new Error('Shopify billing is not configured in this worker'); // retried once it is
    else {
      const settlement = await settleShopifyPurchase(db, purchaser, shopId, { shopifyPurchaseId: purchaseId }, 'webhook');
      purchaseNote =
        settlement === null
          ? { outcome: 'ignored', note: 'no purchase of this shop has this id' }
          : settlement.outcome === 'refused'
            ? { outcome: 'ignored', note: settlement.reason ?? 'refused' }
            : { outcome: 'applied', note: null };
    }
  }
  const applied = await withShop(db, shopId, async (tx) => {
    // Read again in the shop's transaction; two runs at once are serialised by the shop row
    // lock the handler takes, and the settle below tells the loser (which then rolls back).
    const { rows: current } = await sql<{ status: string }>`select status from app_private.shopify_webhook(${webhookId})`.execute(tx);
    if (current[0]?.status !== 'pending') return 'already_settled' as const;
    let outcome: ApplyOutcome = 'ignored';
    let note: string | null = null;
    if (purchaseNote) {
      outcome = purchaseNote.outcome;
      note = purchaseNote.note;
    } else if (webhook.topic === 'customers/create' || webhook.topic === 'customers/update' || webhook.topic === 'customers/delete') {
      const actor = systemActor(shopId);
      const result =
        webhook.topic === 'customers/delete'
          ? await applyCustomerDeletion(tx, actor, webhook.payload)
          : await applyCustomerWebhook(tx, actor, webhook.topic, webhook.payload, new Date(webhook.triggered_at));
      if (result.applied) outcome = 'applied';
      else note = result.note;
    } else if (webhook.topic === 'orders/create') {
      const result = await applyOrderWebhook(tx, systemActor(shopId), webhook.payload);
      if (result.applied) outcome = 'applied';
      note = result.note;
    } else if (webhook.topic === 'customers/data_request') {
      const result = await receiveDataRequest(tx, systemActor(shopId), webhook.payload);
      if (result === 'applied') outcome = 'applied';
      else note = result === 'not_this_shop' ? 'the payload names another shop' : 'no data request id in the body';
    } else if (webhook.topic === 'shop/redact' || webhook.topic === 'customers/redact') {
      const result = await (webhook.topic === 'shop/redact' ? redactShop : redactCustomer)(tx, systemActor(shopId), webhook.payload);
      if (result === 'applied') outcome = 'applied';
      else note = result === 'shop_installed' ? 'the shop is installed again: not erased' : 'the payload names another shop';
    } else if (webhook.topic === 'app/uninstalled') {
      const result = await uninstallShop(tx, systemActor(shopId), { webhookId, triggeredAt: new Date(webhook.triggered_at), payload: webhook.payload });
      if (result === 'applied') outcome = 'applied';
      else note = result === 'stale' ? 'triggered before the last install' : 'the payload names another shop';
    } else {
      note = 'no handler for this topic';
    }
    const { rows: settled } = await sql<{ ok: boolean }>`select app_private.settle_shopify_webhook(${webhookId}, ${outcome}, ${note}) as ok`.execute(tx);
    // Another run settled it between our two reads: roll this run's work back.
    if (!settled[0]?.ok) throw new Error(`shopify webhook ${webhookId} was settled concurrently`);
    return outcome;
  });
  // Only handled topics get a job, so the topic label is bounded.
  if (applied !== 'already_settled') dependencies.metrics?.shopifyWebhooks.inc({ topic: webhook.topic, outcome: applied });
  return applied;
}

export async function sweepShopifyWebhooks(db: Db): Promise<number> {
  const { rows } = await sql<{ deleted: number }>`select app_private.shopify_webhooks_sweep() as deleted`.execute(db);
  return rows[0]?.deleted ?? 0;
}

/**
 * Webhooks still pending 10 minutes after they arrived (their job lost, or out of attempts
 * during a long outage) get their job again (migration 0170). Returns how many.
 */
export async function requeueStaleShopifyWebhooks(db: Db, now: Date = new Date()): Promise<number> {
  const { rows } = await sql<{ n: number }>`select app_private.requeue_stale_shopify_webhooks(${new Date(now.getTime() - 10 * 60_000)}, 500) as n`.execute(db);
  return rows[0]?.n ?? 0;
}
