// OpenAPI generated from the routes' TypeBox schemas: /docs/json and a page at /docs.
// operationIds, named components, error responses, security and what the route schemas
// cannot say are added centrally (src/plugins/openapi/): the route files stay as they are.
import fp from 'fastify-plugin';
import type { TSchema } from '@sinclair/typebox';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { operationIdFor } from './openapi/operation-ids.js';
import { createTransform } from './openapi/transform.js';
import { createTransformObject } from './openapi/document.js';

export default fp(
  async (app, opts: { publicBaseUrl: string; importMaxBytes: number; importMaxRows: number; components: Record<string, TSchema> }) => {
    // The registered schemas by operationId: ./openapi/components.ts names some of them.
    const routeSchemas = new Map<string, Record<string, unknown>>();
    app.addHook('onRoute', (route) => {
      if (!route.schema) return;
      for (const method of [route.method].flat()) routeSchemas.set(operationIdFor(method, route.url), route.schema as Record<string, unknown>);
    });
    await app.register(swagger, {
      openapi: {
        openapi: '3.0.3',
        info: {
          title: 'Pigeon API',
          version: '1.0.0',
          description:
            'SMS marketing backend for Shopify merchants. Errors use the envelope {"error": {"code", "message", "requestId", "details"?}} (components Error, InsufficientCreditsError, NotReadyError).',
          license: { name: 'Proprietary', url: 'https://example.com/pigeon/license' },
        },
        servers: [{ url: opts.publicBaseUrl }],
        components: {
          securitySchemes: {
            bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Authorization: Bearer <access token>' },
            cookieAuth: {
              type: 'apiKey',
              in: 'cookie',
              name: 'pigeon_access',
              description: 'The HttpOnly access cookie; POST, PUT, PATCH and DELETE then need the X-CSRF-Token header',
            },
          },
        },
      },
      // Schemas with their own $id (SegmentRule, SenderNumber, SecurityEvent) keep it as their name.
      refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
      transform: createTransform({ routeSchemas, components: opts.components }) as never,
      transformObject: createTransformObject({ importMaxBytes: opts.importMaxBytes, importMaxRows: opts.importMaxRows }) as never,
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
