// The only module that reads process.env. Everything else receives a Config.
import { Type, type Static, type TSchema } from '@sinclair/typebox';
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

type Reader = (name: string, env: Env, config: Record<string, unknown>) => unknown;
interface Setting<K extends string, S extends TSchema> {
  /** The field of `Config` (camelCase) this variable fills. */
  key: K;
  schema: S;
  /** Turns the raw variable into the field's value (defaults included); earlier fields are in `config`. */
  read: Reader;
}
const setting = <K extends string, S extends TSchema>(key: K, schema: S, read: Reader): Setting<K, S> => ({ key, schema, read });

// Readers: an empty variable means "use the default", like an unset one.
const text =
  (fallback: string | ((config: Record<string, unknown>) => string)): Reader =>
  (name, env, config) =>
    env[name] || (typeof fallback === 'function' ? fallback(config) : fallback);
const optional: Reader = (name, env) => env[name] || undefined;
const integer =
  (fallback: number): Reader =>
  (name, env) =>
    int(env, name, fallback);
const boolean =
  (fallback: boolean): Reader =>
  (name, env) =>
    bool(env, name, fallback);
const commaList =
  (fallback = '', each: (item: string) => string = (item) => item): Reader =>
  (name, env) =>
    list(env[name] || fallback).map(each);
// Outside production a missing secret gets a per-process random value: safe, just not persistent.
const secretOrRandom: Reader = (name, env) => env[name] || devSecret();

/**
 * Every environment variable Pigeon reads, ONCE: its Config field, its TypeBox schema and
 * how it is read. `Config`, its validation and the variable named in an error all derive
 * from this table; test/config.test.ts checks it against README's configuration table.
 * Order matters only where a default uses an earlier field (PUBLIC_BASE_URL, LOG_LEVEL).
 */
export const SETTINGS = {
  NODE_ENV: setting('nodeEnv', Environment, text('development')),
  HOST: setting('host', Type.String({ minLength: 1 }), text('127.0.0.1')),
  PORT: setting('port', Type.Integer({ minimum: 0, maximum: 65535 }), integer(3000)),
  /** Absent: `npm start` / `npm test` run an embedded Postgres. */
  DATABASE_URL: setting('databaseUrl', Type.Optional(Type.String({ minLength: 1 })), optional),
  DATABASE_POOL_SIZE: setting('databasePoolSize', Type.Integer({ minimum: 1, maximum: 200 }), integer(10)),
  PUBLIC_BASE_URL: setting('publicBaseUrl', Type.String({ pattern: '^https?://[^/]+$' }), (name, env, config) =>
    (env[name] || `http://${String(config.host)}:${String(config.port)}`).replace(/\/+$/, ''),
  ),
  ALLOWED_ORIGINS: setting('allowedOrigins', Type.Array(Type.String({ pattern: '^https?://[^/]+$' })), commaList()),
  ALLOW_SHOPIFY_ADMIN_ORIGINS: setting('allowShopifyAdminOrigins', Type.Boolean(), boolean(false)),
  TRUST_PROXY: setting('trustProxy', Type.Array(Type.String({ minLength: 1 })), commaList()),
  ALLOWED_FORWARDED_HOSTS: setting('allowedForwardedHosts', Type.Array(Type.String({ minLength: 1 })), commaList('', (h) => h.toLowerCase())),
  LOG_LEVEL: setting('logLevel', LogLevel, text((config) => (config.nodeEnv === 'test' ? 'silent' : 'info'))),
  BODY_LIMIT_BYTES: setting('bodyLimitBytes', Type.Integer({ minimum: 1024 }), integer(1024 * 1024)),
  REQUEST_TIMEOUT_MS: setting('requestTimeoutMs', Type.Integer({ minimum: 1 }), integer(30_000)),
  CONNECTION_TIMEOUT_MS: setting('connectionTimeoutMs', Type.Integer({ minimum: 1 }), integer(10_000)),
  KEEP_ALIVE_TIMEOUT_MS: setting('keepAliveTimeoutMs', Type.Integer({ minimum: 1 }), integer(5_000)),
  METRICS_TOKEN: setting('metricsToken', Type.Optional(Type.String()), optional),
  METRICS_ALLOWED_IPS: setting('metricsAllowedIps', Type.Array(Type.String({ minLength: 1 })), commaList('127.0.0.1,::1')),
  RATE_LIMIT_MAX: setting('rateLimitMax', Type.Integer({ minimum: 1 }), integer(300)),
  RATE_LIMIT_WINDOW_MS: setting('rateLimitWindowMs', Type.Integer({ minimum: 1000 }), integer(60_000)),
  RATE_LIMIT_PREFILTER_MAX: setting('rateLimitPrefilterMax', Type.Integer({ minimum: 1 }), integer(1_000)),
  /** Webhook requests that fail their signature check, per source address and window, before 429. */
  WEBHOOK_SIGNATURE_FAILURE_MAX: setting('webhookSignatureFailureMax', Type.Integer({ minimum: 1 }), integer(10)),
  WEBHOOK_SIGNATURE_FAILURE_WINDOW_MS: setting('webhookSignatureFailureWindowMs', Type.Integer({ minimum: 1000 }), integer(15 * 60_000)),
  JWT_SECRET: setting('jwtSecret', Type.String(), secretOrRandom),
  /** Key ring for secrets at rest: "kid:base64(32 bytes),..."; the last key encrypts. */
  ENCRYPTION_KEYS: setting('encryptionKeys', Type.String({ minLength: 1 }), (name, env) =>
    env[name] || `dev:${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64')}`,
  ),
  IP_HASH_SECRET: setting('ipHashSecret', Type.String(), secretOrRandom),
  JWT_ISSUER: setting('jwtIssuer', Type.String({ minLength: 1, maxLength: 200 }), text('pigeon')),
  JWT_AUDIENCE: setting('jwtAudience', Type.String({ minLength: 1, maxLength: 200 }), text('pigeon-api')),
  ACCESS_TOKEN_TTL_SECONDS: setting('accessTokenTtlSeconds', Type.Integer({ minimum: 60, maximum: 3600 }), integer(900)),
  REFRESH_TOKEN_TTL_SECONDS: setting('refreshTokenTtlSeconds', Type.Integer({ minimum: 3600, maximum: 30 * 86400 }), integer(7 * 86400)),
  SESSION_IDLE_TIMEOUT_SECONDS: setting('sessionIdleTimeoutSeconds', Type.Integer({ minimum: 300 }), integer(3 * 86400)),
  MAX_SESSIONS_PER_USER: setting('maxSessionsPerUser', Type.Integer({ minimum: 1, maximum: 100 }), integer(10)),
  /** Refuse (instead of only auditing) a refresh from another IP or user agent. */
  REFRESH_BLOCK_ON_FINGERPRINT_CHANGE: setting('refreshBlockOnFingerprintChange', Type.Boolean(), boolean(false)),
  LOCKOUT_MAX_ATTEMPTS: setting('lockoutMaxAttempts', Type.Integer({ minimum: 1, maximum: 100 }), integer(5)),
  LOCKOUT_MINUTES: setting('lockoutMinutes', Type.Integer({ minimum: 1, maximum: 1440 }), integer(30)),
  // OWASP's argon2id minimum (19 MiB, 2 passes, 1 lane); see bench/login-hash.ts.
  ARGON2_MEMORY_KIB: setting('argon2MemoryKib', Type.Integer({ minimum: 8192, maximum: 1048576 }), integer(19_456)),
  ARGON2_TIME_COST: setting('argon2TimeCost', Type.Integer({ minimum: 1, maximum: 20 }), integer(2)),
  ARGON2_PARALLELISM: setting('argon2Parallelism', Type.Integer({ minimum: 1, maximum: 8 }), integer(1)),
  WORKER_CONCURRENCY: setting('workerConcurrency', Type.Integer({ minimum: 1, maximum: 100 }), integer(4)),
  /** A separate worker process serves its own /metrics here (0 = not at all). */
  WORKER_METRICS_PORT: setting('workerMetricsPort', Type.Integer({ minimum: 0, maximum: 65535 }), integer(0)),
  EMBEDDED_PG_PORT: setting('embeddedPostgresPort', Type.Integer({ minimum: 1, maximum: 65535 }), integer(54329)),
  EMBEDDED_PG_DIR: setting('embeddedPostgresDir', Type.String({ minLength: 1 }), text('.data/postgres')),
  /** The Shopify app's client id and secret; absent: the Shopify routes answer 503. */
  SHOPIFY_API_KEY: setting('shopifyApiKey', Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), optional),
  SHOPIFY_API_SECRET: setting('shopifyApiSecret', Type.Optional(Type.String({ minLength: 1 })), optional),
  /** The previous app secret, still accepted on webhooks while the secret is rotated. */
  SHOPIFY_API_SECRET_PREVIOUS: setting('shopifyApiSecretPrevious', Type.Optional(Type.String({ minLength: 1 })), optional),
  /** Webhooks whose X-Shopify-Triggered-At is older than this are refused (Shopify retries for 48 h). */
  SHOPIFY_WEBHOOK_MAX_AGE_HOURS: setting('shopifyWebhookMaxAgeHours', Type.Integer({ minimum: 1, maximum: 168 }), integer(48)),
  /** Access scopes requested at install, comma-separated. */
  SHOPIFY_SCOPES: setting('shopifyScopes', Type.String({ pattern: '^[a-z_]+(,[a-z_]+)*$' }), text('read_customers,read_orders')),
  /** Where a shop's admin lives; `{shop}` is the myshopify domain. Tests point it at a fake. */
  SHOPIFY_ADMIN_URL: setting('shopifyAdminUrl', Type.String({ pattern: '^https?://[^\\s{}]*\\{shop\\}[^\\s{}]*$' }), text('https://{shop}')),
  /** The Admin API version every GraphQL call names (Shopify's quarterly releases, e.g. 2025-10). */
  SHOPIFY_API_VERSION: setting('shopifyApiVersion', Type.String({ pattern: '^(20[2-9][0-9]-(01|04|07|10)|unstable)$' }), text('2025-10')),
  /** Each Admin API request (and each wait for the next part of a bulk result) times out after this. */
  /** Shopify Billing API purchases are test charges (development stores); default: outside production. */
  SHOPIFY_BILLING_TEST: setting('shopifyBillingTest', Type.Boolean(), (name, env, config) => bool(env, name, config.nodeEnv !== 'production')),
  SHOPIFY_API_TIMEOUT_MS: setting('shopifyApiTimeoutMs', Type.Integer({ minimum: 100, maximum: 120000 }), integer(10_000)),
  /** Clock skew allowed on Shopify session tokens' exp/nbf, in seconds. */
  SHOPIFY_SESSION_TOKEN_LEEWAY_SECONDS: setting('shopifySessionTokenLeewaySeconds', Type.Integer({ minimum: 0, maximum: 60 }), integer(5)),
  /** The SMS provider; absent: send batches wait (and retry) until one is configured. */
  SMS_PROVIDER_URL: setting('smsProviderUrl', Type.Optional(Type.String({ pattern: '^https?://[^\\s]+$' })), optional),
  SMS_PROVIDER_API_KEY: setting('smsProviderApiKey', Type.Optional(Type.String({ minLength: 1 })), optional),
  SMS_WEBHOOK_SECRET: setting('smsWebhookSecret', Type.Optional(Type.String({ minLength: 1 })), optional),
  /** A number released from a shop is not assigned to another shop for this many days. */
  SENDER_NUMBER_QUARANTINE_DAYS: setting('senderNumberQuarantineDays', Type.Integer({ minimum: 0, maximum: 365 }), integer(30)),
  /** A send batch that met a provider outage tries again after at most this long. */
  SEND_RETRY_MAX_DELAY_SECONDS: setting('sendRetryMaxDelaySeconds', Type.Integer({ minimum: 1, maximum: 3600 }), integer(30)),
  /** A send batch that has met nothing but outages for this long gives up (recipients failed, credits released). */
  SEND_OUTAGE_GIVE_UP_HOURS: setting('sendOutageGiveUpHours', Type.Integer({ minimum: 1, maximum: 24 * 30 }), integer(72)),
  /** Jobs locked by a worker process whose heartbeat is older than this are released. */
  WORKER_HEARTBEAT_TIMEOUT_SECONDS: setting('workerHeartbeatTimeoutSeconds', Type.Integer({ minimum: 5, maximum: 3600 }), integer(60)),
  SMS_PROVIDER_TIMEOUT_MS: setting('smsProviderTimeoutMs', Type.Integer({ minimum: 100, maximum: 120000 }), integer(10_000)),
  SMS_BREAKER_ERROR_PERCENT: setting('smsBreakerErrorPercent', Type.Integer({ minimum: 1, maximum: 100 }), integer(50)),
  SMS_BREAKER_RESET_MS: setting('smsBreakerResetMs', Type.Integer({ minimum: 100, maximum: 600000 }), integer(30_000)),
  SMS_BREAKER_VOLUME: setting('smsBreakerVolume', Type.Integer({ minimum: 1, maximum: 10000 }), integer(10)),
  /** Provider requests in flight per send batch. */
  SMS_SEND_CONCURRENCY: setting('smsSendConcurrency', Type.Integer({ minimum: 1, maximum: 256 }), integer(32)),
  /** Stripe's secret (or restricted) key; absent: the billing routes answer 503. */
  STRIPE_SECRET_KEY: setting('stripeSecretKey', Type.Optional(Type.String({ pattern: '^(sk|rk)_(test|live)_[A-Za-z0-9_]{8,}$' })), optional),
  /** Webhook signing secrets, comma-separated: every one is accepted (rotation: add the new, then drop the old). */
  STRIPE_WEBHOOK_SECRETS: setting('stripeWebhookSecrets', Type.Array(Type.String({ pattern: '^whsec_[A-Za-z0-9+/=_]{8,}$' })), commaList()),
  /** Where the Stripe API lives; absent: api.stripe.com. Local runs and tests point it at the fake (npm run fake-stripe). */
  STRIPE_API_URL: setting('stripeApiUrl', Type.Optional(Type.String({ pattern: '^https?://[^/\\s]+$' })), optional),
  STRIPE_TIMEOUT_MS: setting('stripeTimeoutMs', Type.Integer({ minimum: 100, maximum: 120000 }), integer(10_000)),
  STRIPE_MAX_NETWORK_RETRIES: setting('stripeMaxNetworkRetries', Type.Integer({ minimum: 0, maximum: 5 }), integer(2)),
  /** CSV contact imports: largest upload and most rows. */
  IMPORT_MAX_BYTES: setting('importMaxBytes', Type.Integer({ minimum: 1024, maximum: 1024 * 1024 * 1024 }), integer(50 * 1024 * 1024)),
  IMPORT_MAX_ROWS: setting('importMaxRows', Type.Integer({ minimum: 1, maximum: 10_000_000 }), integer(1_000_000)),
} as const;

type Settings = typeof SETTINGS;
export type ConfigVariable = keyof Settings;
type ConfigProperties = { [V in ConfigVariable as Settings[V]['key']]: Settings[V]['schema'] };

const ConfigSchema = Type.Object(
  Object.fromEntries(Object.values(SETTINGS).map((s) => [s.key, s.schema])) as ConfigProperties,
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
export type Env = Record<string, string | undefined>;

const VARIABLE_OF_KEY = new Map<string, string>(Object.entries(SETTINGS).map(([name, s]) => [s.key, name]));

/**
 * What production refuses to start without, checked before anything is parsed. Secrets
 * must be strong (weakSecretReason) when set; `required` ones must be set.
 */
export const PRODUCTION_SECRETS: ReadonlyArray<{ variable: ConfigVariable; required: boolean }> = [
  { variable: 'JWT_SECRET', required: true },
  { variable: 'IP_HASH_SECRET', required: true },
  { variable: 'METRICS_TOKEN', required: false },
  { variable: 'SHOPIFY_API_SECRET', required: false },
  { variable: 'SHOPIFY_API_SECRET_PREVIOUS', required: false },
  { variable: 'SMS_PROVIDER_API_KEY', required: false },
  { variable: 'SMS_WEBHOOK_SECRET', required: false },
];
/** Not secrets, but production has no sensible default for them. */
const PRODUCTION_REQUIRED: readonly ConfigVariable[] = ['DATABASE_URL', 'ENCRYPTION_KEYS', 'PUBLIC_BASE_URL'];

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

/** Throws unless `env` is fit for production: strong secrets, no missing essentials. */
export function checkProductionEnv(env: Env): void {
  for (const { variable, required } of PRODUCTION_SECRETS) {
    if (!required && (env[variable] === undefined || env[variable] === '')) continue;
    const reason = weakSecretReason(env[variable]);
    if (reason) throw new ConfigError(`${variable} ${reason}; refusing to start in production`);
  }
  for (const variable of PRODUCTION_REQUIRED) {
    if (!env[variable]) throw new ConfigError(`${variable} is missing; refusing to start in production`);
  }
  // Billing takes money: production needs a real key and at least one real signing secret.
  const stripeKey = env.STRIPE_SECRET_KEY ?? '';
  if (!/^(sk|rk)_(test|live)_[A-Za-z0-9_]{20,}$/.test(stripeKey) || PLACEHOLDER_PATTERNS.some((p) => p.test(stripeKey.replace(/^(sk|rk)_(test|live)_/, '')))) {
    throw new ConfigError(`STRIPE_SECRET_KEY ${stripeKey ? 'is not a Stripe secret key or is a placeholder' : 'is missing'}; refusing to start in production`);
  }
  const signingSecrets = list(env.STRIPE_WEBHOOK_SECRETS);
  if (signingSecrets.length === 0) throw new ConfigError('STRIPE_WEBHOOK_SECRETS is missing; refusing to start in production');
  for (const secret of signingSecrets) {
    const body = secret.replace(/^whsec_/, '');
    if (!secret.startsWith('whsec_') || body.length < 24 || PLACEHOLDER_PATTERNS.some((p) => p.test(body))) {
      throw new ConfigError('STRIPE_WEBHOOK_SECRETS holds a value that is not a Stripe signing secret or is a placeholder; refusing to start in production');
    }
  }
  if (env.STRIPE_API_URL && !env.STRIPE_API_URL.startsWith('https://')) {
    throw new ConfigError('STRIPE_API_URL must be https in production; refusing to start in production');
  }
  // Access tokens travel to this address: never in clear, never to a stand-in.
  if (env.SHOPIFY_ADMIN_URL && !env.SHOPIFY_ADMIN_URL.startsWith('https://')) {
    throw new ConfigError('SHOPIFY_ADMIN_URL must be https in production; refusing to start in production');
  }
}

/**
 * Build the configuration from an environment (process.env unless given).
 * Throws ConfigError naming the offending variable.
 */
export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV ?? 'development';
  if (!['development', 'test', 'production'].includes(nodeEnv)) {
    throw new ConfigError(`NODE_ENV must be development, test or production, got "${env.NODE_ENV}"`);
  }
  if (nodeEnv === 'production') checkProductionEnv(env);

  const candidate: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(SETTINGS)) candidate[s.key] = s.read(name, env, candidate);

  if (!Value.Check(ConfigSchema, candidate)) {
    const first = Value.Errors(ConfigSchema, candidate).First();
    const key = first?.path.replace(/^\//, '').split('/')[0] ?? '';
    throw new ConfigError(`${VARIABLE_OF_KEY.get(key) ?? key} is invalid: ${first?.message ?? 'unknown error'}`);
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

/**
 * The test harness's variables: `documented` ones are for developers (README's table);
 * `internal` ones are handed from scripts/test.ts to the tap processes it starts.
 */
export const TEST_VARIABLES = {
  documented: ['PIGEON_TEST_KEEP_DATABASES'],
  internal: ['PIGEON_TEST_ADMIN_URL', 'PIGEON_TEST_TEMPLATE', 'PIGEON_TEST_ROLE_PASSWORDS'],
} as const;

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
