// The only module that reads process.env. Everything else receives a Config.
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parseKeyRing } from './lib/key-ring.js';

const Environment = Type.Union([
  Type.Literal('development'),
  Type.Literal('test'),
  Type.Literal('production'),
]);

const LogLevel = Type.Union(
  ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
);

const ConfigSchema = Type.Object(
  {
    nodeEnv: Environment,
    host: Type.String({ minLength: 1 }),
    port: Type.Integer({ minimum: 0, maximum: 65535 }),
    /** Absent: `npm start` / `npm test` run an embedded Postgres. */
    databaseUrl: Type.Optional(Type.String({ minLength: 1 })),
    databasePoolSize: Type.Integer({ minimum: 1, maximum: 200 }),
    publicBaseUrl: Type.String({ pattern: '^https?://[^/]+$' }),
    allowedOrigins: Type.Array(Type.String({ pattern: '^https?://[^/]+$' })),
    allowShopifyAdminOrigins: Type.Boolean(),
    trustProxy: Type.Array(Type.String({ minLength: 1 })),
    allowedForwardedHosts: Type.Array(Type.String({ minLength: 1 })),
    logLevel: LogLevel,
    bodyLimitBytes: Type.Integer({ minimum: 1024 }),
    requestTimeoutMs: Type.Integer({ minimum: 1 }),
    connectionTimeoutMs: Type.Integer({ minimum: 1 }),
    keepAliveTimeoutMs: Type.Integer({ minimum: 1 }),
    metricsToken: Type.Optional(Type.String()),
    metricsAllowedIps: Type.Array(Type.String({ minLength: 1 })),
    rateLimitMax: Type.Integer({ minimum: 1 }),
    rateLimitWindowMs: Type.Integer({ minimum: 1000 }),
    rateLimitPrefilterMax: Type.Integer({ minimum: 1 }),
    /** Webhook requests failing their signature check, per source address (/64) and window, before 429. */
    webhookSignatureFailureMax: Type.Integer({ minimum: 1 }),
    webhookSignatureFailureWindowMs: Type.Integer({ minimum: 1000 }),
    jwtSecret: Type.String(),
    /** Key ring for secrets at rest: "kid:base64(32 bytes),..."; the last key encrypts. */
    encryptionKeys: Type.String({ minLength: 1 }),
    ipHashSecret: Type.String(),
    jwtIssuer: Type.String({ minLength: 1, maxLength: 200 }),
    jwtAudience: Type.String({ minLength: 1, maxLength: 200 }),
    accessTokenTtlSeconds: Type.Integer({ minimum: 60, maximum: 3600 }),
    refreshTokenTtlSeconds: Type.Integer({ minimum: 3600, maximum: 30 * 86400 }),
    sessionIdleTimeoutSeconds: Type.Integer({ minimum: 300 }),
    maxSessionsPerUser: Type.Integer({ minimum: 1, maximum: 100 }),
    /** Refuse (instead of only auditing) a refresh from another IP or user agent. */
    refreshBlockOnFingerprintChange: Type.Boolean(),
    lockoutMaxAttempts: Type.Integer({ minimum: 1, maximum: 100 }),
    lockoutMinutes: Type.Integer({ minimum: 1, maximum: 1440 }),
    argon2MemoryKib: Type.Integer({ minimum: 8192, maximum: 1048576 }),
    argon2TimeCost: Type.Integer({ minimum: 1, maximum: 20 }),
    argon2Parallelism: Type.Integer({ minimum: 1, maximum: 8 }),
    workerConcurrency: Type.Integer({ minimum: 1, maximum: 100 }),
    /** A separate worker process serves its own /metrics here (0 = not at all). */
    workerMetricsPort: Type.Integer({ minimum: 0, maximum: 65535 }),
    embeddedPostgresPort: Type.Integer({ minimum: 1, maximum: 65535 }),
    embeddedPostgresDir: Type.String({ minLength: 1 }),
    /** The Shopify app's client id and secret; absent: the Shopify routes answer 503. */
    shopifyApiKey: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    shopifyApiSecret: Type.Optional(Type.String({ minLength: 1 })),
    /** Access scopes requested at install, comma-separated. */
    shopifyScopes: Type.String({ pattern: '^[a-z_]+(,[a-z_]+)*$' }),
    /** Where a shop's admin lives; `{shop}` is the myshopify domain. Tests point it at a fake. */
    shopifyAdminUrl: Type.String({ pattern: '^https?://[^\\s{}]*\\{shop\\}[^\\s{}]*$' }),
    /** Clock skew allowed on Shopify session tokens' exp/nbf, in seconds. */
    shopifySessionTokenLeewaySeconds: Type.Integer({ minimum: 0, maximum: 60 }),
    /** The SMS provider; absent: send batches wait (and retry) until one is configured. */
    smsProviderUrl: Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })),
    smsProviderApiKey: Type.Optional(Type.String({ minLength: 1 })),
    smsWebhookSecret: Type.Optional(Type.String({ minLength: 1 })),
    /** A number released from a shop is not assigned to another shop for this many days. */
    senderNumberQuarantineDays: Type.Integer({ minimum: 0, maximum: 365 }),
    /** A send batch that met a provider outage tries again after at most this long. */
    sendRetryMaxDelaySeconds: Type.Integer({ minimum: 1, maximum: 3600 }),
    /** A send batch that has met nothing but outages for this long gives up (recipients failed, credits released). */
    sendOutageGiveUpHours: Type.Integer({ minimum: 1, maximum: 24 * 30 }),
    /** Jobs locked by a worker process whose heartbeat is older than this are released. */
    workerHeartbeatTimeoutSeconds: Type.Integer({ minimum: 5, maximum: 3600 }),
    smsProviderTimeoutMs: Type.Integer({ minimum: 100, maximum: 120000 }),
    smsBreakerErrorPercent: Type.Integer({ minimum: 1, maximum: 100 }),
    smsBreakerResetMs: Type.Integer({ minimum: 100, maximum: 600000 }),
    smsBreakerVolume: Type.Integer({ minimum: 1, maximum: 10000 }),
    /** Provider requests in flight per send batch. */
    smsSendConcurrency: Type.Integer({ minimum: 1, maximum: 256 }),
    /** CSV contact imports: largest upload and most rows. */
    importMaxBytes: Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024 }),
    importMaxRows: Type.Integer({ minimum: 1, maximum: 10_000_000 }),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type Env = Record<string, string | undefined>;

/** Secrets that must be strong in production. Name → config key. */
const SECRETS = {
  JWT_SECRET: 'jwtSecret',
  IP_HASH_SECRET: 'ipHashSecret',
  METRICS_TOKEN: 'metricsToken',
  SHOPIFY_API_SECRET: 'shopifyApiSecret',
  SMS_PROVIDER_API_KEY: 'smsProviderApiKey',
  SMS_WEBHOOK_SECRET: 'smsWebhookSecret',
} as const satisfies Record<string, keyof Config>;

const OPTIONAL_SECRETS = new Set(['METRICS_TOKEN', 'SHOPIFY_API_SECRET', 'SMS_PROVIDER_API_KEY', 'SMS_WEBHOOK_SECRET']);
const MIN_SECRET_BYTES = 32;
// Values copied from docs and examples; a secret equal to (or built from) one of them is not a secret.
const PLACEHOLDER_PATTERNS = [
  /change[-_ ]?me/i,
  /replace[-_ ]?me/i,
  /placeholder/i,
  /^(secret|password|changeit|example|default|test|dev|development)+$/i,
  /^x+$/i,
  /^(.)\1+$/, // one repeated character
  /your[-_ ]?(secret|key|token)/i,
];

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

function list(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function int(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^-?\d+$/.test(raw.trim())) throw new ConfigError(`${name} must be an integer, got "${raw}"`);
  return Number(raw);
}

function bool(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new ConfigError(`${name} must be true or false, got "${raw}"`);
}

/** Why a secret value is unacceptable in production, or null when it is fine. */
export function weakSecretReason(value: string | undefined): string | null {
  if (value === undefined || value === '') return 'is missing';
  if (Buffer.byteLength(value, 'utf8') < MIN_SECRET_BYTES) return `is shorter than ${MIN_SECRET_BYTES} bytes`;
  if (PLACEHOLDER_PATTERNS.some((p) => p.test(value))) return 'is a known placeholder value';
  return null;
}

/**
 * Build the configuration from an environment (process.env unless given).
 * Throws ConfigError naming the offending variable.
 */
export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = (env.NODE_ENV ?? 'development') as Config['nodeEnv'];
  if (!['development', 'test', 'production'].includes(nodeEnv)) {
    throw new ConfigError(`NODE_ENV must be development, test or production, got "${env.NODE_ENV}"`);
  }
  const production = nodeEnv === 'production';

  if (production) {
    for (const [name] of Object.entries(SECRETS)) {
      if (OPTIONAL_SECRETS.has(name) && (env[name] === undefined || env[name] === '')) continue;
      const reason = weakSecretReason(env[name]);
      if (reason) throw new ConfigError(`${name} ${reason}; refusing to start in production`);
    }
    if (!env.DATABASE_URL) throw new ConfigError('DATABASE_URL is missing; refusing to start in production');
    if (!env.ENCRYPTION_KEYS) throw new ConfigError('ENCRYPTION_KEYS is missing; refusing to start in production');
    if (!env.PUBLIC_BASE_URL) throw new ConfigError('PUBLIC_BASE_URL is missing; refusing to start in production');
    // Access tokens travel to this address: never in clear, never to a stand-in.
    if (env.SHOPIFY_ADMIN_URL && !env.SHOPIFY_ADMIN_URL.startsWith('https://')) {
      throw new ConfigError('SHOPIFY_ADMIN_URL must be https in production; refusing to start in production');
    }
  }

  const port = int(env, 'PORT', 3000);
  const host = env.HOST || '127.0.0.1';
  const candidate: Config = {
    nodeEnv,
    host,
    port,
    databaseUrl: env.DATABASE_URL || undefined,
    databasePoolSize: int(env, 'DATABASE_POOL_SIZE', 10),
    publicBaseUrl: (env.PUBLIC_BASE_URL || `http://${host}:${port}`).replace(/\/+$/, ''),
    allowedOrigins: list(env.ALLOWED_ORIGINS),
    allowShopifyAdminOrigins: bool(env, 'ALLOW_SHOPIFY_ADMIN_ORIGINS', false),
    trustProxy: list(env.TRUST_PROXY),
    allowedForwardedHosts: list(env.ALLOWED_FORWARDED_HOSTS).map((h) => h.toLowerCase()),
    logLevel: (env.LOG_LEVEL || (nodeEnv === 'test' ? 'silent' : 'info')) as Config['logLevel'],
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 1024 * 1024),
    requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 30_000),
    connectionTimeoutMs: int(env, 'CONNECTION_TIMEOUT_MS', 10_000),
    keepAliveTimeoutMs: int(env, 'KEEP_ALIVE_TIMEOUT_MS', 5_000),
    metricsToken: env.METRICS_TOKEN || undefined,
    metricsAllowedIps: list(env.METRICS_ALLOWED_IPS || '127.0.0.1,::1'),
    rateLimitMax: int(env, 'RATE_LIMIT_MAX', 300),
    rateLimitWindowMs: int(env, 'RATE_LIMIT_WINDOW_MS', 60_000),
    rateLimitPrefilterMax: int(env, 'RATE_LIMIT_PREFILTER_MAX', 1_000),
    webhookSignatureFailureMax: int(env, 'WEBHOOK_SIGNATURE_FAILURE_MAX', 10),
    webhookSignatureFailureWindowMs: int(env, 'WEBHOOK_SIGNATURE_FAILURE_WINDOW_MS', 15 * 60_000),
    // Outside production a missing secret gets a per-process random value: safe, just not persistent.
    jwtSecret: env.JWT_SECRET || devSecret(),
    encryptionKeys: env.ENCRYPTION_KEYS || `dev:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`,
    ipHashSecret: env.IP_HASH_SECRET || devSecret(),
    jwtIssuer: env.JWT_ISSUER || 'pigeon',
    jwtAudience: env.JWT_AUDIENCE || 'pigeon-api',
    accessTokenTtlSeconds: int(env, 'ACCESS_TOKEN_TTL_SECONDS', 900),
    refreshTokenTtlSeconds: int(env, 'REFRESH_TOKEN_TTL_SECONDS', 7 * 86400),
    sessionIdleTimeoutSeconds: int(env, 'SESSION_IDLE_TIMEOUT_SECONDS', 3 * 86400),
    maxSessionsPerUser: int(env, 'MAX_SESSIONS_PER_USER', 10),
    refreshBlockOnFingerprintChange: bool(env, 'REFRESH_BLOCK_ON_FINGERPRINT_CHANGE', false),
    lockoutMaxAttempts: int(env, 'LOCKOUT_MAX_ATTEMPTS', 5),
    lockoutMinutes: int(env, 'LOCKOUT_MINUTES', 30),
    // OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane); see bench/login-hash.ts.
    argon2MemoryKib: int(env, 'ARGON2_MEMORY_KIB', 19_456),
    argon2TimeCost: int(env, 'ARGON2_TIME_COST', 2),
    argon2Parallelism: int(env, 'ARGON2_PARALLELISM', 1),
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 4),
    workerMetricsPort: int(env, 'WORKER_METRICS_PORT', 0),
    embeddedPostgresPort: int(env, 'EMBEDDED_PG_PORT', 54329),
    embeddedPostgresDir: env.EMBEDDED_PG_DIR || '.data/postgres',
    shopifyApiKey: env.SHOPIFY_API_KEY || undefined,
    shopifyApiSecret: env.SHOPIFY_API_SECRET || undefined,
    shopifyScopes: env.SHOPIFY_SCOPES || 'read_customers,read_orders',
    shopifyAdminUrl: env.SHOPIFY_ADMIN_URL || 'https://{shop}',
    shopifySessionTokenLeewaySeconds: int(env, 'SHOPIFY_SESSION_TOKEN_LEEWAY_SECONDS', 5),
    smsProviderUrl: env.SMS_PROVIDER_URL || undefined,
    smsProviderApiKey: env.SMS_PROVIDER_API_KEY || undefined,
    smsWebhookSecret: env.SMS_WEBHOOK_SECRET || undefined,
    senderNumberQuarantineDays: int(env, 'SENDER_NUMBER_QUARANTINE_DAYS', 30),
    sendRetryMaxDelaySeconds: int(env, 'SEND_RETRY_MAX_DELAY_SECONDS', 30),
    sendOutageGiveUpHours: int(env, 'SEND_OUTAGE_GIVE_UP_HOURS', 72),
    workerHeartbeatTimeoutSeconds: int(env, 'WORKER_HEARTBEAT_TIMEOUT_SECONDS', 60),
    smsProviderTimeoutMs: int(env, 'SMS_PROVIDER_TIMEOUT_MS', 10_000),
    smsBreakerErrorPercent: int(env, 'SMS_BREAKER_ERROR_PERCENT', 50),
    smsBreakerResetMs: int(env, 'SMS_BREAKER_RESET_MS', 30_000),
    smsBreakerVolume: int(env, 'SMS_BREAKER_VOLUME', 10),
    smsSendConcurrency: int(env, 'SMS_SEND_CONCURRENCY', 32),
    importMaxBytes: int(env, 'IMPORT_MAX_BYTES', 50 * 1024 * 1024),
    importMaxRows: int(env, 'IMPORT_MAX_ROWS', 1_000_000),
  };

  if (!Value.Check(ConfigSchema, candidate)) {
    const first = Value.Errors(ConfigSchema, candidate).First();
    const key = first?.path.replace(/^\//, '').split('/')[0] ?? '';
    throw new ConfigError(`${envNameOf(key)} is invalid: ${first?.message ?? 'unknown error'}`);
  }
  if ((candidate.shopifyApiKey === undefined) !== (candidate.shopifyApiSecret === undefined)) {
    throw new ConfigError('SHOPIFY_API_KEY and SHOPIFY_API_SECRET must be set together');
  }
  try {
    parseKeyRing(candidate.encryptionKeys);
  } catch (error) {
    // The key ring's messages name the entry, never the key material.
    throw new ConfigError(`ENCRYPTION_KEYS is invalid: ${error instanceof Error ? error.message : 'unreadable'}`);
  }
  return candidate;
}

function devSecret(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url');
}

const ENV_NAMES: Record<string, string> = {
  nodeEnv: 'NODE_ENV',
  host: 'HOST',
  port: 'PORT',
  databaseUrl: 'DATABASE_URL',
  databasePoolSize: 'DATABASE_POOL_SIZE',
  publicBaseUrl: 'PUBLIC_BASE_URL',
  allowedOrigins: 'ALLOWED_ORIGINS',
  allowShopifyAdminOrigins: 'ALLOW_SHOPIFY_ADMIN_ORIGINS',
  trustProxy: 'TRUST_PROXY',
  allowedForwardedHosts: 'ALLOWED_FORWARDED_HOSTS',
  logLevel: 'LOG_LEVEL',
  bodyLimitBytes: 'BODY_LIMIT_BYTES',
  requestTimeoutMs: 'REQUEST_TIMEOUT_MS',
  connectionTimeoutMs: 'CONNECTION_TIMEOUT_MS',
  keepAliveTimeoutMs: 'KEEP_ALIVE_TIMEOUT_MS',
  metricsToken: 'METRICS_TOKEN',
  metricsAllowedIps: 'METRICS_ALLOWED_IPS',
  rateLimitMax: 'RATE_LIMIT_MAX',
  rateLimitWindowMs: 'RATE_LIMIT_WINDOW_MS',
  rateLimitPrefilterMax: 'RATE_LIMIT_PREFILTER_MAX',
  webhookSignatureFailureMax: 'WEBHOOK_SIGNATURE_FAILURE_MAX',
  webhookSignatureFailureWindowMs: 'WEBHOOK_SIGNATURE_FAILURE_WINDOW_MS',
  jwtSecret: 'JWT_SECRET',
  encryptionKeys: 'ENCRYPTION_KEYS',
  ipHashSecret: 'IP_HASH_SECRET',
  jwtIssuer: 'JWT_ISSUER',
  jwtAudience: 'JWT_AUDIENCE',
  accessTokenTtlSeconds: 'ACCESS_TOKEN_TTL_SECONDS',
  refreshTokenTtlSeconds: 'REFRESH_TOKEN_TTL_SECONDS',
  sessionIdleTimeoutSeconds: 'SESSION_IDLE_TIMEOUT_SECONDS',
  maxSessionsPerUser: 'MAX_SESSIONS_PER_USER',
  refreshBlockOnFingerprintChange: 'REFRESH_BLOCK_ON_FINGERPRINT_CHANGE',
  lockoutMaxAttempts: 'LOCKOUT_MAX_ATTEMPTS',
  lockoutMinutes: 'LOCKOUT_MINUTES',
  argon2MemoryKib: 'ARGON2_MEMORY_KIB',
  argon2TimeCost: 'ARGON2_TIME_COST',
  argon2Parallelism: 'ARGON2_PARALLELISM',
  workerConcurrency: 'WORKER_CONCURRENCY',
  workerMetricsPort: 'WORKER_METRICS_PORT',
  embeddedPostgresPort: 'EMBEDDED_PG_PORT',
  embeddedPostgresDir: 'EMBEDDED_PG_DIR',
  shopifyApiKey: 'SHOPIFY_API_KEY',
  shopifyApiSecret: 'SHOPIFY_API_SECRET',
  shopifyScopes: 'SHOPIFY_SCOPES',
  shopifyAdminUrl: 'SHOPIFY_ADMIN_URL',
  shopifySessionTokenLeewaySeconds: 'SHOPIFY_SESSION_TOKEN_LEEWAY_SECONDS',
  smsProviderUrl: 'SMS_PROVIDER_URL',
  smsProviderApiKey: 'SMS_PROVIDER_API_KEY',
  smsWebhookSecret: 'SMS_WEBHOOK_SECRET',
  senderNumberQuarantineDays: 'SENDER_NUMBER_QUARANTINE_DAYS',
  sendRetryMaxDelaySeconds: 'SEND_RETRY_MAX_DELAY_SECONDS',
  sendOutageGiveUpHours: 'SEND_OUTAGE_GIVE_UP_HOURS',
  workerHeartbeatTimeoutSeconds: 'WORKER_HEARTBEAT_TIMEOUT_SECONDS',
  smsProviderTimeoutMs: 'SMS_PROVIDER_TIMEOUT_MS',
  smsBreakerErrorPercent: 'SMS_BREAKER_ERROR_PERCENT',
  smsBreakerResetMs: 'SMS_BREAKER_RESET_MS',
  smsBreakerVolume: 'SMS_BREAKER_VOLUME',
  smsSendConcurrency: 'SMS_SEND_CONCURRENCY',
  importMaxBytes: 'IMPORT_MAX_BYTES',
  importMaxRows: 'IMPORT_MAX_ROWS',
};

function envNameOf(key: string): string {
  return ENV_NAMES[key] ?? key;
}

/** Test-only knobs, read here so that test helpers never touch process.env themselves. */
export interface TestSettings {
  /** A superuser connection to the server the tests may use (set by the developer or CI). */
  databaseUrl?: string;
  /** Set by scripts/test.ts for the tap processes it starts. */
  adminUrl?: string;
  templateDatabase?: string;
  rolePasswords?: string;
  keepDatabases: boolean;
}

export function loadTestSettings(env: Env = process.env): TestSettings {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    adminUrl: env.PIGEON_TEST_ADMIN_URL || undefined,
    templateDatabase: env.PIGEON_TEST_TEMPLATE || undefined,
    rolePasswords: env.PIGEON_TEST_ROLE_PASSWORDS || undefined,
    keepDatabases: bool(env, 'PIGEON_TEST_KEEP_DATABASES', false),
  };
}

/** Environment handed to child processes (tap, benchmarks), from the same single reader. */
export function inheritedEnv(extra: Record<string, string>): Env {
  return { ...process.env, ...extra };
}
