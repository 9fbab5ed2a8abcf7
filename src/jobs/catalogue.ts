// The job catalogue: every task a shop's transaction may add, with its payload schema and
// how its job key is built. addShopJob (the only caller of addJob), the tasks (parseJob) and
// the reconciler (jobKey) all read this one table, so a key such as a campaign's dispatch
// key is written in exactly one place. Cron tasks (crontab) carry no payload and are listed
// in CRON_TASKS; test/job-catalogue.test.ts checks that every task file is in one of the two.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { addJob, type AddJobOptions, type ShopJobPayload } from '../db/add-job.js';
import type { Tx } from '../db/with-shop.js';
import { parsePayload, ShopPayload, UuidString } from '../lib/job-payload.js';

interface JobDefinition<S extends TSchema> {
  payload: S;
  /** Scoped to the shop by app_private.add_job ('<shop id>:<key>'). */
  key: (payload: Static<S>) => string;
  options?: Omit<AddJobOptions, 'jobKey' | 'runAt'>;
}
const job = <S extends TSchema>(definition: JobDefinition<S>) => definition;

export const SendBatchPayload = Type.Composite([
  ShopPayload,
  Type.Object({
    campaignId: UuidString,
    batchId: Type.String({ pattern: '^[0-9]{1,19}$' }),
    /** When the provider was first found unavailable for this batch (ISO time). */
    outageSince: Type.Optional(Type.String({ maxLength: 40 })),
    outageRetries: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  }),
]);

/** Lower runs first: user-initiated work 0, maintenance after it. */
export const MAINTENANCE_PRIORITY = 10;

export const SHOP_JOBS = {
  /** Walks a campaign's pending recipients into send batches; finishes it when none is left. */
  campaign_dispatch: job({
    payload: Type.Composite([ShopPayload, Type.Object({ campaignId: UuidString })]),
    key: (p) => `campaign:${p.campaignId}:dispatch`,
    options: { priority: 0 },
  }),
  /** Sends one batch of a campaign's recipients. */
  sms_send_batch: job({
    payload: SendBatchPayload,
    key: (p) => `campaign:${p.campaignId}:batch:${p.batchId}`,
    options: { priority: 0 },
  }),
  /** Applies an uploaded CSV; one import at a time per shop (a queue scoped to the shop). */
  contact_import: job({
    payload: Type.Composite([ShopPayload, Type.Object({ importId: UuidString })]),
    key: (p) => `import:${p.importId}`,
    options: { queueName: 'contact-imports', priority: 0 },
  }),
  /**
   * The Shopify customer backfill (modules/shopify/sync-job.ts): runs a bulk operation,
   * waits for it (re-adding itself with a later run_at while Shopify works), then applies
   * the result. One at a time per shop (a queue scoped to the shop).
   */
  shopify_customer_sync: job({
    payload: Type.Composite([ShopPayload, Type.Object({ syncId: UuidString })]),
    key: (p) => `shopify-sync:${p.syncId}`,
    options: { queueName: 'shopify-sync', priority: 0 },
  }),
  /**
   * Pushes a Shopify-linked contact's SMS consent to Shopify (modules/shopify/consent-push.ts)
   * after a consent change that did not come from Shopify. Added by contacts/consent.ts in
   * the transaction of the change; one per contact ('replace': a STOP/START burst collapses
   * into one push of the state the contact has when it runs). Retried with backoff.
   */
  shopify_consent_push: job({
    payload: Type.Composite([ShopPayload, Type.Object({ contactId: UuidString })]),
    key: (p) => `contact:${p.contactId}:shopify-consent`,
    options: { jobKeyMode: 'replace', priority: 0, maxAttempts: 25 },
  }),
  /** Fetches a paid purchase's receipt URL from Stripe (the webhook does not carry it). */
  billing_purchase_receipt: job({
    payload: Type.Composite([ShopPayload, Type.Object({ purchaseId: UuidString })]),
    key: (p) => `purchase:${p.purchaseId}:receipt`,
    options: { priority: MAINTENANCE_PRIORITY, maxAttempts: 10 },
  }),
  /**
   * Checks the shop's Shopify webhook subscriptions and creates the missing ones; added by
   * the install (and every reinstall) in its transaction. A pending one is replaced, so a
   * reinstall during a Shopify outage starts its retries afresh with the new token.
   */
  shopify_webhook_subscriptions: job({
    payload: ShopPayload,
    key: () => 'shopify:webhook_subscriptions',
    options: { priority: 0, maxAttempts: 20 },
  }),
  /** Applies one shop's retention settings; a repeated sweep keeps the first run time. */
  shop_retention_apply: job({
    payload: ShopPayload,
    key: () => 'shop_retention_apply',
    options: { jobKeyMode: 'preserve_run_at', priority: MAINTENANCE_PRIORITY, maxAttempts: 5 },
  }),
} as const;

/** Tasks the crontab runs, with no payload and no shop. */
export const CRON_TASKS = [
  'campaign_reconcile',
  'rate_limit_sweep',
  'retention_sweep',
  'idempotency_sweep',
  'provider_events_sweep',
  'session_sweep',
  'billing_reconcile',
  'stripe_events_sweep',
  'shopify_webhooks_sweep',
  'shopify_webhooks_reconcile',
] as const;

/**
 * Jobs that belong to no shop yet, added by SQL functions in the transaction that records
 * what they act on: the payload schema is here, the key is built by the named function.
 */
export const SYSTEM_JOBS = {
  /** Applies one recorded Stripe event; added (and keyed) by app_private.add_stripe_event_job (migration 0093). */
  stripe_event_apply: { payload: Type.Object({ eventId: Type.String({ pattern: '^evt_[A-Za-z0-9_]{1,250}$' }) }, { additionalProperties: false }), addedBy: 'app_private.add_stripe_event_job' },
  /** Applies one recorded Shopify webhook; added (and keyed) by app_private.add_shopify_webhook_job (migration 0100). */
  shopify_webhook_apply: { payload: Type.Object({ webhookId: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,100}$' }) }, { additionalProperties: false }), addedBy: 'app_private.add_shopify_webhook_job' },
} as const;

export type SystemJobName = keyof typeof SYSTEM_JOBS;

/** A system job's payload, checked against the catalogue. */
export function parseSystemJob<N extends SystemJobName>(name: N, payload: unknown): Static<(typeof SYSTEM_JOBS)[N]['payload']> {
  return parsePayload(name, SYSTEM_JOBS[name].payload, payload);
}

export type ShopJobName = keyof typeof SHOP_JOBS;
export type JobPayload<N extends ShopJobName> = Static<(typeof SHOP_JOBS)[N]['payload']>;

/** The job's key within its shop. */
export function jobKey<N extends ShopJobName>(name: N, payload: JobPayload<N>): string {
  return (SHOP_JOBS[name].key as (p: JobPayload<N>) => string)(payload);
}

/** Every job key of a campaign starts with this (after the shop prefix). */
export const campaignJobKeyPrefix = (campaignId: string) => `campaign:${campaignId}:`;

/** Adds a job in the caller's transaction, keyed and prioritised as the catalogue says. */
export async function addShopJob<N extends ShopJobName>(tx: Tx, name: N, payload: JobPayload<N>, extra: { runAt?: Date } = {}): Promise<string> {
  const definition = SHOP_JOBS[name];
  return addJob(tx, name, payload as unknown as ShopJobPayload, { ...definition.options, jobKey: jobKey(name, payload), ...extra });
}

/** A task's payload, checked against the catalogue (a task never trusts the queue). */
export function parseJob<N extends ShopJobName>(name: N, payload: unknown): JobPayload<N> {
  return parsePayload(name, SHOP_JOBS[name].payload, payload) as JobPayload<N>;
}
