// The per-route half of the document: @fastify/swagger's `transform` sees each route's options
// (method, url, schema, preHandler, config) before it converts the schema. From them it sets
// the operationId, marks the body and response (sub)schemas that are named components, and
// notes, in `x-pigeon-*` extensions that ./document.ts reads and removes, what the document
// must add: the error statuses the route can answer with, whether it is public, CSRF.
import type { RouteOptions } from 'fastify';
import { requireAuth } from '../auth.js';
import type { TSchema } from '@sinclair/typebox';
import { ROUTE_COMPONENTS } from './components.js';
import { operationIdFor } from './operation-ids.js';

type Json = Record<string, unknown>;
const COMPONENT_MARK = 'x-pigeon-component';
const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Never rate limited (src/plugins/rate-limit.ts, EXEMPT_ROUTES). */
const NOT_RATE_LIMITED = new Set(['/health/live', '/health/ready', '/metrics']);

/** Statuses a route answers with beyond what its properties imply, by operationId. */
export const EXTRA_STATUSES: Record<string, number[]> = {
  login: [423],
  enqueueCampaign: [402],
  getReadiness: [503],
  // A bad, missing or stale signature; 503 while the SMS provider is not configured.
  receiveSmsStatus: [401, 503],
  receiveSmsInbound: [401, 503],
  // A bad, missing, stale or future signature; 503 while Stripe is not configured.
  receiveStripeWebhook: [401, 503],
  // A bad or missing HMAC, a stale or future-dated event; malformed headers or body after a
  // valid HMAC; 503 while Shopify is not configured.
  receiveShopifyWebhook: [400, 401, 503],
  // Stripe not configured, or unreachable (Retry-After).
  createPurchase: [503],
  confirmPurchase: [503],
  // The invitation token names no live invitation.
  acceptInvitation: [404, 409],
  // No sync yet.
  getShopifySync: [404],
};

export interface RouteNotes {
  operationId: string;
  public: boolean;
  csrf: boolean;
  rateLimited: boolean;
  idempotent: boolean;
  statuses: number[];
}

/** Key-sorted JSON of a schema, without symbols (TypeBox's Kind) and our marks. */
export function canonical(schema: unknown): string {
  return JSON.stringify(schema, (key, value: unknown) => {
    if (key === COMPONENT_MARK) return undefined;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      return Object.fromEntries(Object.entries(value as Json).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return value;
  });
}

function at(schema: unknown, path: string[]): unknown {
  let node = schema;
  for (const key of path) node = node && typeof node === 'object' ? (node as Json)[key] : undefined;
  return node;
}

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

export interface TransformContext {
  /** The routes' schemas by operationId, as they were registered. */
  routeSchemas: Map<string, Json>;
  /** The modules' exported schemas by component name (src/api-components.ts). */
  components: Record<string, TSchema>;
}

export function createTransform(context: TransformContext) {
  let byCanonical: Map<string, string> | undefined;
  function components(): Map<string, string> {
    if (byCanonical) return byCanonical;
    byCanonical = new Map();
    for (const [name, schema] of Object.entries(context.components)) {
      if (!byCanonical.has(canonical(schema))) byCanonical.set(canonical(schema), name);
    }
    for (const [name, [operationId, path]] of Object.entries(ROUTE_COMPONENTS)) {
      const schema = at(context.routeSchemas.get(operationId), path);
      if (!schema || typeof schema !== 'object') throw new Error(`OpenAPI component ${name}: nothing at ${operationId} ${path.join('/')}`);
      if (!byCanonical.has(canonical(schema))) byCanonical.set(canonical(schema), name);
    }
    return byCanonical;
  }

  function mark(node: unknown): void {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) {
      node.forEach(mark);
      return;
    }
    const schema = node as Json;
    if (typeof schema.$id === 'string') return; // named by its $id (refResolver)
    const name = components().get(canonical(schema));
    if (name) schema[COMPONENT_MARK] = name;
    if (schema.properties && typeof schema.properties === 'object') Object.values(schema.properties as Json).forEach(mark);
    for (const key of ['items', 'anyOf', 'oneOf', 'allOf', 'not']) mark(schema[key]);
    if (schema.additionalProperties && typeof schema.additionalProperties === 'object') mark(schema.additionalProperties);
  }

  return function transform({ schema, url, route }: { schema: unknown; url: string; route: RouteOptions }): { schema: Json; url: string } {
    const original = (schema ?? {}) as Json;
    if (original.hide) return { schema: original, url };
    const methods = [route.method].flat().map((m) => m.toUpperCase());
    const method = methods[0]!;
    const operationId = (original.operationId as string | undefined) ?? operationIdFor(method, url);
    const s = clone(original);
    s.operationId = operationId;
    if (s.body) mark(s.body);
    if (s.response) for (const response of Object.values(s.response as Json)) mark(response);

    const security = original.security as unknown[] | undefined;
    const authenticated = Array.isArray(security) && security.length > 0;
    const stateChanging = methods.some((m) => STATE_CHANGING.has(m));
    const preHandlers = [route.preHandler ?? []].flat();
    const config = (route.config ?? {}) as { rateLimit?: unknown; idempotent?: boolean };
    const idempotent = config.idempotent === true;
    const rateLimited = !NOT_RATE_LIMITED.has(url);

    const statuses = new Set<number>(EXTRA_STATUSES[operationId] ?? []);
    for (const status of Object.keys((original.response as Json | undefined) ?? {})) if (Number(status) >= 400) statuses.add(Number(status));
    // Every route: control characters in any query parameter or a header read everywhere
    // (src/plugins/control-characters.ts), besides the route's own schemas.
    statuses.add(400);
    if (authenticated) statuses.add(401);
    // A role check (requirePermission), or CSRF on a cookie-authenticated change.
    if (authenticated && (stateChanging || preHandlers.some((h) => h !== requireAuth))) statuses.add(403);
    if (original.params) statuses.add(404);
    // A body that names another row (a segment, a template) that is not this shop's.
    if (authenticated && stateChanging && original.body) statuses.add(404);
    // Unique values, a row in the wrong state, a concurrent update.
    if (authenticated && stateChanging) statuses.add(409);
    if (stateChanging) {
      statuses.add(413);
      statuses.add(415);
    }
    if (idempotent) {
      statuses.add(409);
      statuses.add(422);
    }
    if (rateLimited) statuses.add(429);

    const notes: RouteNotes = {
      operationId,
      public: !authenticated,
      csrf: authenticated && stateChanging,
      rateLimited: rateLimited && config.rateLimit !== false,
      idempotent,
      statuses: [...statuses].sort((a, b) => a - b),
    };
    s['x-pigeon-notes'] = notes;
    return { schema: s, url };
  };
}

export { COMPONENT_MARK };
