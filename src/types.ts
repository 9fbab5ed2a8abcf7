// Fastify decorations shared by every module.
import type { Config } from './config.js';
import type { Db } from './db/kysely.js';
import type { KeyRing } from './lib/key-ring.js';
import type { Metrics } from './metrics.js';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
    db: Db;
    metrics: Metrics;
    /** ENCRYPTION_KEYS, parsed once: secrets at rest (Shopify tokens, invitation tokens). */
    keyRing: KeyRing;
  }
}

export {};
