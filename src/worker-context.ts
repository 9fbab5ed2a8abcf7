// The database handle tasks use. src/worker.ts sets it; under the graphile-worker CLI
// (`npx graphile-worker`) it is created on first use from the same configuration.
import type { Db } from './db/kysely.js';
import { createDb, createPool } from './db/kysely.js';
import { loadConfig, type Config } from './config.js';
import { createSmsClient, type SmsClient } from './providers/sms/client.js';

let current: Db | undefined;

export function setWorkerDb(db: Db | undefined): void {
  current = db;
}

export function workerDb(): Db {
  if (!current) {
    const config = loadConfig();
    if (!config.databaseUrl) throw new Error('DATABASE_URL is not set (the worker role connection string)');
    current = createDb(createPool({ connectionString: config.databaseUrl, poolSize: config.databasePoolSize, applicationName: 'pigeon-worker-cli' }));
  }
  return current;
}

/** What the send task sends through, and how many requests it keeps in flight. */
export interface WorkerSms {
  sender: SmsClient;
  concurrency: number;
}

let currentSms: WorkerSms | undefined;

export function setWorkerSms(sms: WorkerSms | undefined): void {
  currentSms = sms;
}

export function workerSms(): WorkerSms {
  if (!currentSms) {
    const config = loadConfig();
    currentSms = smsFromConfig(config);
  }
  return currentSms;
}

export function smsFromConfig(config: Config): WorkerSms {
  if (!config.smsProviderUrl || !config.smsProviderApiKey) {
    // The batch fails and graphile-worker retries it later: nothing is lost while unconfigured.
    throw new Error('no SMS provider is configured (SMS_PROVIDER_URL, SMS_PROVIDER_API_KEY)');
  }
  const sender = createSmsClient({
    baseUrl: config.smsProviderUrl,
    apiKey: config.smsProviderApiKey,
    from: config.smsFromNumber,
    timeoutMs: config.smsProviderTimeoutMs,
    // Every concurrent batch keeps its requests in flight at once.
    connections: config.smsSendConcurrency * config.workerConcurrency,
    breaker: { errorThresholdPercentage: config.smsBreakerErrorPercent, resetTimeoutMs: config.smsBreakerResetMs, volumeThreshold: config.smsBreakerVolume },
  });
  return { sender, concurrency: config.smsSendConcurrency };
}
