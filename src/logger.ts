// pino with redaction: the one logger factory for API, worker and CLI.
import pino, { type Logger, type LoggerOptions } from 'pino';
import type { Config } from './config.js';
import { REDACTED, REDACT_PATHS, redactString, redactValue } from './lib/redaction.js';

export function loggerOptions(level: Config['logLevel']): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    formatters: {
      // Scrub PII that slips into free-form fields (error messages, URLs, metadata).
      log: (object) => redactValue(object) as Record<string, unknown>,
    },
    hooks: {
      logMethod(args, method) {
        const scrubbed = args.map((a) => (typeof a === 'string' ? redactString(a) : a)) as Parameters<typeof method>;
        return method.apply(this, scrubbed);
      },
    },
    serializers: {
      req: (req: { method?: string; url?: string; id?: string; headers?: Record<string, unknown> }) => ({
        id: req.id,
        method: req.method,
        // Query strings can carry tokens (OAuth callbacks): log the path only.
        url: typeof req.url === 'string' ? req.url.split('?')[0] : req.url,
      }),
      err: pino.stdSerializers.err,
    },
  };
}

export function createLogger(level: Config['logLevel'], destination?: pino.DestinationStream): Logger {
  return destination ? pino(loggerOptions(level), destination) : pino(loggerOptions(level));
}
