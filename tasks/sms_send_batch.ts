// Sends one batch of a campaign's recipients. See src/modules/campaigns/send.ts.
import type { Task } from 'graphile-worker';
import { Type } from '@sinclair/typebox';
import { parsePayload, ShopPayload, UuidString } from '../src/lib/job-payload.js';
import { sendBatch } from '../src/modules/campaigns/send.js';
import { workerDb, workerSms } from '../src/worker-context.js';

const Payload = Type.Composite([ShopPayload, Type.Object({ campaignId: UuidString, batchId: Type.String({ pattern: '^[0-9]{1,19}$' }) })]);

const sms_send_batch: Task = async (payload, helpers) => {
  const { shopId, campaignId, batchId } = parsePayload('sms_send_batch', Payload, payload);
  const { sender, concurrency } = workerSms();
  const outcome = await sendBatch(workerDb(), sender, shopId, campaignId, batchId, { concurrency });
  helpers.logger.debug(`send batch ${batchId}: ${JSON.stringify(outcome)}`);
};

export default sms_send_batch;
