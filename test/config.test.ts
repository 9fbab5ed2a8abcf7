// Production refuses to start with a missing, short or placeholder secret.
import t from 'tap';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { ConfigError, loadConfig } from '../src/config.js';

const strong = 'k3J9x-Qw8vN2pL5mR7tY1uZ4aB6cD0eF_gH'; // 36 bytes, not a placeholder
const production = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://pigeon_api:pw@db/pigeon',
  PUBLIC_BASE_URL: 'https://api.example.com',
  JWT_SECRET: strong,
  IP_HASH_SECRET: `${strong}-ip`,
  ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 7).toString('base64')}`,
  STRIPE_SECRET_KEY: 'sk_live_51Hq8ZkLm3NpQr7StUvWxYz0aBcDeFgHiJ',
  STRIPE_WEBHOOK_SECRETS: 'whsec_Q2x5bW9kZXJuU2lnbmluZ1NlY3JldDAx',
};

t.test('a complete production config loads', async (t) => {
  const config = loadConfig(production);
  t.equal(config.nodeEnv, 'production');
  t.equal(config.host, '127.0.0.1');
  t.equal(config.port, 3000);
});

t.test('production refuses a missing, short or placeholder secret and names the variable', async (t) => {
  t.throws(() => loadConfig({ ...production, JWT_SECRET: undefined }), new ConfigError('JWT_SECRET is missing; refusing to start in production'));
  t.throws(() => loadConfig({ ...production, JWT_SECRET: 'short-secret' }), { message: /^JWT_SECRET is shorter than 32 bytes/ });
  t.throws(() => loadConfig({ ...production, IP_HASH_SECRET: 'changeme-changeme-changeme-changeme-1' }), { message: /^IP_HASH_SECRET is a known placeholder/ });
  t.throws(() => loadConfig({ ...production, JWT_SECRET: 'x'.repeat(40) }), { message: /^JWT_SECRET is a known placeholder/ });
  t.throws(() => loadConfig({ ...production, METRICS_TOKEN: 'your-secret-token-goes-here-please-123' }), { message: /^METRICS_TOKEN is a known placeholder/ });
  t.throws(() => loadConfig({ ...production, DATABASE_URL: undefined }), { message: /^DATABASE_URL is missing/ });
  t.throws(() => loadConfig({ ...production, ENCRYPTION_KEYS: undefined }), { message: /^ENCRYPTION_KEYS is missing/ });
  const shortKey = `k1:${Buffer.alloc(16, 1).toString('base64')}`;
  t.throws(() => loadConfig({ ...production, ENCRYPTION_KEYS: shortKey }), { message: /^ENCRYPTION_KEYS is invalid/ });
  try {
    loadConfig({ ...production, ENCRYPTION_KEYS: shortKey });
  } catch (error) {
    t.notMatch((error as Error).message, Buffer.alloc(16, 1).toString('base64'), 'the key is not in the message');
  }
});

t.test('Stripe in production: a real key and real signing secrets, or no start', async (t) => {
  t.same(loadConfig(production).stripeWebhookSecrets, ['whsec_Q2x5bW9kZXJuU2lnbmluZ1NlY3JldDAx']);
  t.throws(() => loadConfig({ ...production, STRIPE_SECRET_KEY: undefined }), { message: /^STRIPE_SECRET_KEY is missing; refusing to start in production/ });
  t.throws(() => loadConfig({ ...production, STRIPE_SECRET_KEY: 'sk_test_xxxxxxxxxxxxxxxxxxxxxxxx' }), { message: /^STRIPE_SECRET_KEY is not a Stripe secret key or is a placeholder/ });
  t.throws(() => loadConfig({ ...production, STRIPE_SECRET_KEY: 'pk_live_51Hq8ZkLm3NpQr7StUvWxYz0aBcDeFgHiJ' }), { message: /^STRIPE_SECRET_KEY is not a Stripe secret key/ }, 'a publishable key is not a secret key');
  t.throws(() => loadConfig({ ...production, STRIPE_WEBHOOK_SECRETS: '' }), { message: /^STRIPE_WEBHOOK_SECRETS is missing/ });
  t.throws(() => loadConfig({ ...production, STRIPE_WEBHOOK_SECRETS: 'whsec_Q2x5bW9kZXJuU2lnbmluZ1NlY3JldDAx,whsec_changeme' }), { message: /^STRIPE_WEBHOOK_SECRETS holds a value that is not a Stripe signing secret/ });
  t.throws(() => loadConfig({ ...production, STRIPE_API_URL: 'http://127.0.0.1:12111' }), { message: /^STRIPE_API_URL must be https in production/ });
  const rotating = loadConfig({ ...production, STRIPE_WEBHOOK_SECRETS: 'whsec_Q2x5bW9kZXJuU2lnbmluZ1NlY3JldDAx, whsec_TmV3ZXJTaWduaW5nU2VjcmV0Rm9yUm90YXRpb24' });
  t.equal(rotating.stripeWebhookSecrets.length, 2, 'several secrets during a rotation');
  t.equal(loadConfig({ NODE_ENV: 'development' }).stripeSecretKey, undefined, 'outside production Stripe may be absent (billing answers 503)');
});

t.test('invalid values name the variable', async (t) => {
  t.throws(() => loadConfig({ PORT: 'eighty' }), { message: /^PORT must be an integer/ });
  t.throws(() => loadConfig({ PORT: '70000' }), { message: /^PORT is invalid/ });
  t.throws(() => loadConfig({ ALLOWED_ORIGINS: 'https://ok.example, not a url' }), { message: /^ALLOWED_ORIGINS is invalid/ });
  t.throws(() => loadConfig({ NODE_ENV: 'staging' }), { message: /^NODE_ENV must be/ });
});

t.test('outside production, missing secrets get random per-process values', async (t) => {
  const a = loadConfig({ NODE_ENV: 'development' });
  const b = loadConfig({ NODE_ENV: 'development' });
  t.not(a.jwtSecret, b.jwtSecret);
  t.ok(a.jwtSecret.length >= 32);
});

t.test('the API process with a placeholder secret exits before listening', async (t) => {
  const root = path.resolve(import.meta.dirname, '..');
  const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src/server.ts')], {
      cwd: root,
      env: { PATH: process.env.PATH ?? '', ...production, JWT_SECRET: 'change-me-please-change-me-please-1234', PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('exit', (code) => resolve({ code, output }));
  });
  t.not(code, 0);
  t.match(output, /JWT_SECRET is a known placeholder value; refusing to start in production/);
});

t.test('the Shopify app: key and secret together, a strong secret and an https admin in production', async (t) => {
  const shopify = { SHOPIFY_API_KEY: 'pigeon-app', SHOPIFY_API_SECRET: `shpss_${'0a1b2c3d'.repeat(4)}` };
  t.equal(loadConfig({ ...production, ...shopify }).shopifyAdminUrl, 'https://{shop}');
  t.throws(() => loadConfig({ ...production, SHOPIFY_API_KEY: 'pigeon-app' }), { message: /^SHOPIFY_API_KEY and SHOPIFY_API_SECRET must be set together/ });
  t.throws(() => loadConfig({ ...production, ...shopify, SHOPIFY_API_SECRET: 'shpss_short' }), { message: /^SHOPIFY_API_SECRET is shorter than 32 bytes/ });
  t.throws(() => loadConfig({ ...production, ...shopify, SHOPIFY_ADMIN_URL: 'http://127.0.0.1:9/{shop}' }), { message: /^SHOPIFY_ADMIN_URL must be https in production/ });
  t.throws(() => loadConfig({ ...shopify, SHOPIFY_ADMIN_URL: 'https://admin.example' }), { message: /^SHOPIFY_ADMIN_URL is invalid/ }, 'the template must name {shop}');
});
