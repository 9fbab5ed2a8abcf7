// Pigeon → Shopify consent, as a workflow (the shopify_consent_push job). The job is added by
// contacts/consent.ts in the transaction of any consent change of a Shopify-linked contact
// whose source is not Shopify (a STOP or START texted in, the API, an admin, an import); by
// the time it runs, the local change has committed, so nothing here can undo or hold up an
// opt-out: a Shopify outage only delays Shopify's copy.
//
// 1. Reads (one read-only transaction) the contact's current state, consent time and
//    customer id, the source of its latest consent link, and the shop's domain and token.
//    Nothing to push (skipped, no audit): the contact is deleted, has no customer id, never
//    decided, its latest change came from Shopify (Shopify has it already), or the shop has
//    no Shopify access (not installed, uninstalled: the token is gone).
// 2. Pushes the CURRENT state (not the state of the change that added the job: a STOP/START
//    burst collapses into one job, which pushes where the contact ended):
//    customerSmsMarketingConsentUpdate with UNSUBSCRIBED, or SUBSCRIBED with an opt-in
//    level (a START texted by the customer is SINGLE_OPT_IN, any other Pigeon opt-in
//    UNKNOWN), and consentUpdatedAt = the contact's consent time. Shopify's
//    customers/update webhook that follows carries that same time, which is not newer than
//    the contact's, so the webhook path changes nothing and nothing echoes back.
// 3. Re-reads the contact: if its state moved while the call ran, pushes again (bounded).
//    A change that commits while this job runs adds a second job (graphile-worker gives a
//    running job's key to the new one), and two pushes for one contact may overlap; since
//    every push is followed by this check, whichever job's call reaches Shopify last has
//    then seen the current state, so Shopify ends with it.
// 4. Audits `shopify.consent_pushed` for each mutation Shopify carried out, or
//    `shopify.consent_push_failed` for a refusal.
//
// Errors: an outage, a timeout, throttling or a 5xx/429 is thrown, and graphile-worker
// retries with its exponential backoff (maxAttempts in the catalogue). A refusal that a
// retry cannot change (userErrors such as a customer without a phone or one deleted in
// Shopify, a 4xx such as a revoked token) is audited as a failure and the job ends; so is
// a retryable error on the job's last attempt.
import type { ConsentSource, ConsentState } from '../../db/database.js';
import type { Db } from '../../db/kysely.js';
import { readInShop, withShop } from '../../db/with-shop.js';
import { systemActor } from '../../lib/actor.js';
import type { KeyRing } from '../../lib/key-ring.js';
import { customerSmsMarketingConsentUpdate, ShopifyAdminError, type ShopifyAdmin, type SmsMarketingConsentInput } from '../../providers/shopify-admin.js';
import { audit } from '../audit/service.js';
import { readShopifyAccessToken } from './access-token.js';

export interface ConsentPushDeps {
  admin: ShopifyAdmin;
  keyRing: KeyRing;
}

export interface ConsentPushOptions {
  /** The job's last attempt: a retryable failure is recorded instead of thrown. */
  lastAttempt?: boolean;
  /** Called after each push, before the contact is read again (tests: a change in between). */
  afterPush?: (pushes: number) => Promise<void>;
}

export type ConsentPushResult =
  | { outcome: 'pushed'; state: 'SUBSCRIBED' | 'UNSUBSCRIBED'; pushes: number }
  | { outcome: 'skipped'; reason: 'no contact' | 'no customer id' | 'no consent' | 'from shopify' | 'not installed' }
  | { outcome: 'failed'; reason: string };

/** Pushes made for one job before it gives the rest to a retry. */
const MAX_PUSHES = 3;

interface Target {
  customerId: string;
  state: ConsentState;
  consentAt: Date | null;
  source: ConsentSource | null;
  domain: string | null;
  token: string | null;
}

async function readTarget(db: Db, deps: ConsentPushDeps, shopId: string, contactId: string): Promise<Target | ConsentPushResult> {
  return readInShop(db, shopId, async (tx) => {
    const contact = await tx
      .selectFrom('app.contacts')
      .select(['consent_state', 'consent_updated_at', 'shopify_customer_id'])
      .where('shop_id', '=', shopId)
      .where('id', '=', contactId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (!contact) return { outcome: 'skipped', reason: 'no contact' } as const;
    if (contact.shopify_customer_id === null) return { outcome: 'skipped', reason: 'no customer id' } as const;
    const latest = await tx
      .selectFrom('app.consent_events')
      .select('source')
      .where('shop_id', '=', shopId)
      .where('contact_id', '=', contactId)
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst();
    const shop = await tx.selectFrom('app.shops').select('shopify_domain').where('id', '=', shopId).executeTakeFirst();
    const token = await readShopifyAccessToken(tx, deps.keyRing, shopId);
    return {
      customerId: String(contact.shopify_customer_id),
      state: contact.consent_state,
      consentAt: contact.consent_updated_at ? new Date(contact.consent_updated_at) : null,
      source: latest?.source ?? null,
      domain: shop?.shopify_domain ?? null,
      token,
    };
  });
}

/** What Shopify is told for a contact in `state` whose latest change came from `source`. */
export function consentInputFor(state: ConsentState, source: ConsentSource | null, consentAt: Date | null): SmsMarketingConsentInput | null {
  const at = consentAt ? { consentUpdatedAt: consentAt.toISOString() } : {};
  if (state === 'unsubscribed') return { marketingState: 'UNSUBSCRIBED', ...at };
  if (state === 'subscribed') return { marketingState: 'SUBSCRIBED', marketingOptInLevel: source === 'keyword' ? 'SINGLE_OPT_IN' : 'UNKNOWN', ...at };
  return null;
}

const sameState = (a: Target, b: Target) => a.state === b.state && a.consentAt?.getTime() === b.consentAt?.getTime() && a.customerId === b.customerId;

export async function pushShopifyConsent(db: Db, deps: ConsentPushDeps, shopId: string, contactId: string, opts: ConsentPushOptions = {}): Promise<ConsentPushResult> {
  const actor = systemActor(shopId);
  let pushes = 0;
  let target = await readTarget(db, deps, shopId, contactId);
  for (;;) {
    if ('outcome' in target) return target;
    if (target.source === 'shopify') return { outcome: 'skipped', reason: 'from shopify' };
    const input = consentInputFor(target.state, target.source, target.consentAt);
    if (!input) return { outcome: 'skipped', reason: 'no consent' };
    if (!target.domain || !target.token) return { outcome: 'skipped', reason: 'not installed' };
    if (pushes >= MAX_PUSHES) throw new Error(`the contact's consent kept changing during ${MAX_PUSHES} pushes to Shopify; a retry pushes it again`);
    const customerId = target.customerId;
    try {
      await customerSmsMarketingConsentUpdate(deps.admin.forShop(target.domain, target.token), {
        customerId: `gid://shopify/Customer/${customerId}`,
        smsMarketingConsent: input,
      });
    } catch (error) {
      if (!(error instanceof ShopifyAdminError) || (error.retryable && !opts.lastAttempt)) throw error;
      const reason = `Shopify: ${error.message}`.slice(0, 500);
      await withShop(db, shopId, (tx) =>
        audit(tx, actor, {
          action: 'shopify.consent_push_failed',
          resourceType: 'contact',
          resourceId: contactId,
          result: 'failure',
          metadata: { customerId, marketingState: input.marketingState, code: error.code, status: error.status ?? null, codes: error.codes, retryable: error.retryable, error: reason },
        }),
      );
      return { outcome: 'failed', reason };
    }
    pushes++;
    // One audit row per mutation Shopify carried out.
    await withShop(db, shopId, (tx) =>
      audit(tx, actor, {
        action: 'shopify.consent_pushed',
        resourceType: 'contact',
        resourceId: contactId,
        result: 'success',
        metadata: { customerId, marketingState: input.marketingState, consentUpdatedAt: input.consentUpdatedAt ?? null },
      }),
    );
    await opts.afterPush?.(pushes);
    const now = await readTarget(db, deps, shopId, contactId);
    if ('outcome' in now || sameState(now, target)) return { outcome: 'pushed', state: input.marketingState as 'SUBSCRIBED' | 'UNSUBSCRIBED', pushes };
    target = now;
  }
}
