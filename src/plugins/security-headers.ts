// Helmet, strict for a JSON API: nothing may be framed, loaded or executed from a response.
import fp from 'fastify-plugin';
import helmet from '@fastify/helmet';

export default fp(
  async (app, opts: { production: boolean }) => {
    await app.register(helmet, {
      global: true,
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] },
      },
      crossOriginResourcePolicy: { policy: 'same-site' },
      referrerPolicy: { policy: 'no-referrer' },
      // HSTS only where TLS is terminated for us (production, behind HTTPS).
      hsts: opts.production ? { maxAge: 31_536_000, includeSubDomains: true } : false,
    });
  },
  { name: 'security-headers' },
);
