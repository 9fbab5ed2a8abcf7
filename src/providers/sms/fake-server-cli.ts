// `npm run fake-sms -- [--port 4010] [--latency 0] [--error-rate 0] [--dlr-url URL] [--inbound-url URL]`:
// the fake provider for development. Prints its URL; the API key and webhook secret are
// taken from the same configuration the app uses (SMS_PROVIDER_API_KEY, SMS_WEBHOOK_SECRET).
import { loadConfig } from '../../config.js';
import { startFakeSmsProvider } from './fake-server.js';

const argv = process.argv.slice(2);
const arg = (name: string) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const config = loadConfig();
const fake = await startFakeSmsProvider({
  port: Number(arg('port') ?? 4010),
  apiKey: config.smsProviderApiKey ?? 'dev-sms-key',
  ...(config.smsWebhookSecret ? { webhookSecret: config.smsWebhookSecret } : {}),
  latencyMs: Number(arg('latency') ?? 0),
  errorRate: Number(arg('error-rate') ?? 0),
  ...(arg('dlr-url') ? { deliveryReportUrl: arg('dlr-url')! } : {}),
  ...(arg('inbound-url') ? { inboundUrl: arg('inbound-url')! } : {}),
});
console.log(`fake SMS provider listening on ${fake.url}`);
