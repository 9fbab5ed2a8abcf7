// The named schemas of the OpenAPI document, in one table. The route files keep their inline
// TypeBox schemas; the document's transform (./transform.ts) finds every body or response
// (sub)schema identical to one listed here and refers to #/components/schemas/<name> instead.
// Two sources: the schemas modules export from their schemas.ts (handed to the plugin by
// src/app.ts, from src/api-components.ts: a plugin imports no module), and, for the ones a
// route file keeps to itself, the place in one operation where the schema is (here).
/**
 * Schemas a route file keeps to itself: [operationId, path in its Fastify schema]. Schemas
 * that carry their own $id (SegmentRule, SenderNumber, SecurityEvent) are named by that $id.
 */
export const ROUTE_COMPONENTS: Record<string, [string, string[]]> = {
  SignupInput: ['signup', ['body']],
  LoginInput: ['login', ['body']],
  Session: ['listSessions', ['response', '200', 'properties', 'items', 'items']],
  User: ['signup', ['response', '201', 'properties', 'user']],
  Shop: ['signup', ['response', '201', 'properties', 'shop']],
  Me: ['getMe', ['response', '200']],
  CurrentUser: ['getMe', ['response', '200', 'properties', 'user']],
  AccessToken: ['refreshSession', ['response', '200']],
  Import: ['getImport', ['response', '200']],
  ImportAccepted: ['createImport', ['response', '202']],
  AuditEvent: ['listAuditEvents', ['response', '200', 'properties', 'items', 'items']],
  WebhookAck: ['receiveSmsStatus', ['response', '200']],
};
