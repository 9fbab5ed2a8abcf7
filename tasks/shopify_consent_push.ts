// Pushes a Shopify-linked contact's SMS consent to Shopify after a consent change in Pigeon.
// See src/modules/shopify/consent-push.ts.
import type { Task } from 'graphile-worker';
import { parseJob } from '../src/jobs/catalogue.js';
import { pushShopifyConsent } from '../src/modules/shopify/consent-push.js';
import { workerDb, workerKeyRing, workerShopifyAdmin } from '../src/worker-context.js';

const shopify_consent_push: Task = async (payload, helpers) => {
  const { shopId, contactId } = parseJob('shopify_consent_push', payload);
  const result = await pushShopifyConsent(workerDb(), { admin: workerShopifyAdmin(), keyRing: workerKeyRing() }, shopId, contactId, {
    lastAttempt: helpers.job.attempts >= helpers.job.max_attempts,
  });
  helpers.logger.info(`shopify consent push for contact ${contactId}: ${result.outcome}${'reason' in result ? ` (${result.reason})` : ''}`);
};

export default shopify_consent_push;
