// Adds a graphile-worker job inside the caller's transaction, so the job exists exactly
// when the state change that needs it commits.
import { sql } from 'kysely';
import type { Tx } from './with-shop.js';

export interface AddJobOptions {
  /**
   * Deduplicates within the shop: a second job with the same key replaces (or, with mode,
   * preserves) the first. Stored as '<shop id>:<key>' by app_private.add_job, so one shop
   * can never name another's job.
   */
  jobKey?: string;
  jobKeyMode?: 'replace' | 'preserve_run_at' | 'unsafe_dedupe';
  /** Jobs in one queue run one at a time; scoped to the shop like jobKey. */
  queueName?: string;
  runAt?: Date;
  maxAttempts?: number;
  /** Lower runs first; user-initiated work uses the default 0, maintenance a positive number. */
  priority?: number;
}

export interface ShopJobPayload {
  shopId: string;
  [key: string]: unknown;
}

/**
 * The payload carries ids, never PII. Its shopId must be the transaction's current shop:
 * app_private.add_job checks that in SQL.
 */
export async function addJob(tx: Tx, taskIdentifier: string, payload: ShopJobPayload, options: AddJobOptions = {}): Promise<string> {
  const { rows } = await sql<{ id: string }>`
    select app_private.add_job(
      identifier => ${taskIdentifier},
      payload => ${JSON.stringify(payload)}::jsonb,
      queue_name => ${options.queueName ?? null},
      run_at => ${options.runAt ?? null}::timestamptz,
      max_attempts => ${options.maxAttempts ?? null}::integer,
      job_key => ${options.jobKey ?? null},
      priority => ${options.priority ?? null}::integer,
      job_key_mode => ${options.jobKeyMode ?? 'replace'}
    )::text as id`.execute(tx);
  return rows[0]!.id;
}
