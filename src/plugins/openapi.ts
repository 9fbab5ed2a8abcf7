// OpenAPI generated from the routes' TypeBox schemas: /docs/json and a page at /docs.
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';

export default fp(
  async (app, opts: { publicBaseUrl: string }) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Pigeon API',
          version: '1.0.0',
          description:
            'SMS marketing backend for Shopify merchants. Errors use the envelope {"error": {"code", "message", "requestId", "details"?}}.',
        },
        servers: [{ url: opts.publicBaseUrl }],
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
            cookieAuth: { type: 'apiKey', in: 'cookie', name: 'pigeon_access' },
          },
        },
      },
    });
    await app.register(swaggerUi, {
      routePrefix: '/docs',
      // The UI page needs its own scripts and styles; its routes get a CSP that allows them.
      staticCSP: true,
      transformStaticCSP: (header) => header,
    });
  },
  { name: 'openapi' },
);
