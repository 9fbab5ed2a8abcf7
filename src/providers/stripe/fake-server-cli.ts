// `npm run fake-stripe -- [--port 12111] [--secret-key sk_test_…] [--webhook-secret whsec_…] [--webhook-url URL] [--latency 0]`:
// the fake Stripe for development. Prints the variables that point the app at it. Events
// go to the app's webhook route under the configured PUBLIC_BASE_URL unless --webhook-url
// says otherwise; the keys are fixed development values unless given (src/config.ts is the
// only reader of the environment, and the fake's own keys are not app configuration).
import { loadConfig } from '../../config.js';
import { startFakeStripe } from './fake-server.js';

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const config = loadConfig();
const fake = await startFakeStripe({
  port: Number(arg('port') ?? 12111),
  secretKey: arg('secret-key') ?? 'sk_test_fake_pigeon_development_0000',
  webhookSecret: arg('webhook-secret') ?? 'whsec_fake_pigeon_development_0000',
  webhookUrl: arg('webhook-url') ?? `${config.publicBaseUrl}/webhooks/stripe`,
  latencyMs: Number(arg('latency') ?? 0),
});
console.log(`fake Stripe listening on ${fake.url}; events go to ${arg('webhook-url') ?? `${config.publicBaseUrl}/webhooks/stripe`}`);
console.log('point the app at it with:');
console.log(`STRIPE_SECRET_KEY=${fake.secretKey}`);
console.log(`STRIPE_WEBHOOK_SECRETS=${fake.webhookSecret}`);
console.log(`STRIPE_API_URL=${fake.url}`);
