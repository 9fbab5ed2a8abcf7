// Every response the suite receives is checked against the served OpenAPI document: its status
// must be documented for the operation, its media type too, and a JSON body must match the
// documented schema (ajv). buildTestApp installs it; a response that does not conform is
// replaced by a 500 UNDOCUMENTED_RESPONSE (and printed), so the test that made it fails.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { openapiPath } from '../../src/plugins/openapi/operation-ids.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/** Routes that are not part of the API document on purpose. */
const UNDOCUMENTED_ROUTES = /^\/(docs|metrics)(\/|$)/;

const pointer = (...tokens: string[]) => tokens.map((t) => t.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

export function createResponseValidator(document: Json) {
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addFormat('binary', true);
  ajv.addSchema(document, 'openapi');
  const compiled = new Map<string, ValidateFunction>();

  function resolve(node: Json | undefined): Json | undefined {
    let n = node;
    while (n && typeof n.$ref === 'string') {
      n = (n.$ref as string)
        .replace(/^#\//, '')
        .split('/')
        .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))
        .reduce<Json | undefined>((o, k) => o?.[k], document);
    }
    return n;
  }

  /** null when the response conforms, else what is wrong. */
  return function check(method: string, routeUrl: string | undefined, status: number, contentType: string | undefined, body: string | null): string | null {
    if (!routeUrl || UNDOCUMENTED_ROUTES.test(routeUrl)) return null;
    // Fastify's 404 for an unknown URL has no route: nothing to look up.
    const path = openapiPath(routeUrl);
    const m = method.toLowerCase();
    if (m === 'head' || m === 'options') return null;
    const operation = document.paths?.[path]?.[m] as Json | undefined;
    if (!operation) return `${method} ${path} is not in the OpenAPI document`;
    const response = resolve(operation.responses?.[String(status)] ?? operation.responses?.default);
    if (!response) return `${operation.operationId}: status ${status} is not documented (documented: ${Object.keys(operation.responses ?? {}).join(', ')})`;
    const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
    const content = response.content as Json | undefined;
    if (!content) {
      // 204 and 304 never carry a body (Fastify drops the serialised null after this hook).
      if (body && body.length > 0 && status !== 302 && status !== 204 && status !== 304) return `${operation.operationId} ${status}: a body (${media}) where the document has none`;
      return null;
    }
    if (!media) return body ? `${operation.operationId} ${status}: no content type` : null;
    if (!content[media]) return `${operation.operationId} ${status}: ${media} is not documented (documented: ${Object.keys(content).join(', ')})`;
    if (media !== 'application/json' || body === null) return null;
    const key = pointer('paths', path, m, 'responses', String(status) in (operation.responses ?? {}) ? String(status) : 'default');
    let validate = compiled.get(key);
    if (!validate) {
      // The schema where the response lives, $refs and all, resolved inside the document.
      const responseRef = operation.responses[String(status)]?.$ref as string | undefined;
      const at = responseRef ? `openapi${responseRef}/content/application~1json/schema` : `openapi#/${key}/content/application~1json/schema`;
      validate = ajv.compile({ $ref: at });
      compiled.set(key, validate);
    }
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      return `${operation.operationId} ${status}: the body is not JSON`;
    }
    if (validate(data)) return null;
    return `${operation.operationId} ${status}: ${ajv.errorsText(validate.errors, { dataVar: 'body' })}; body: ${body.slice(0, 500)}`;
  };
}

/** All the violations seen in this process, for a test to list. */
export const violations: string[] = [];

/**
 * Installs the check on every route registered so far. Returns a function that stops the
 * check for routes registered after it is called (the probe routes tests add themselves).
 */
export function installResponseValidation(app: FastifyInstance): () => void {
  let check: ReturnType<typeof createResponseValidator> | undefined;
  const testRoutes = new Set<string>();
  let recording = false;
  app.addHook('onRoute', (route) => {
    if (recording) testRoutes.add(route.url);
  });
  app.addHook('onSend', async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    if (request.routeOptions.url && testRoutes.has(request.routeOptions.url)) return payload;
    check ??= createResponseValidator(app.swagger() as unknown as Json);
    const body = typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString('utf8') : payload == null ? '' : null;
    const contentType = reply.getHeader('content-type');
    const problem = check(request.method, request.routeOptions.url, reply.statusCode, typeof contentType === 'string' ? contentType : undefined, body);
    if (!problem) return payload;
    violations.push(problem);
    console.error(`# response does not match the OpenAPI document: ${problem}`);
    reply.code(500).header('content-type', 'application/json; charset=utf-8');
    return JSON.stringify({ error: { code: 'UNDOCUMENTED_RESPONSE', message: problem, requestId: String(request.id) } });
  });
  return () => {
    recording = true;
  };
}
