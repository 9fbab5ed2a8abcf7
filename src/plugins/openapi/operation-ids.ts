// Every operation's operationId, derived in one place from its method and path, so a client
// generator (openapi-typescript, …) names the same call the same way across releases.
// The rule covers the usual shapes; OVERRIDES names the rest (and wins over the rule).
// test/openapi.test.ts fails when two operations share an id.

/** Method + path (Fastify's `:param` or OpenAPI's `{param}`) → the id, where the rule reads badly. */
const OVERRIDES: Record<string, string> = {
  'GET /health/live': 'getLiveness',
  'GET /health/ready': 'getReadiness',
  'POST /api/v1/auth/signup': 'signup',
  'POST /api/v1/auth/login': 'login',
  'POST /api/v1/auth/refresh': 'refreshSession',
  'POST /api/v1/auth/logout': 'logout',
  'POST /api/v1/auth/logout-all': 'logoutAll',
  'GET /api/v1/auth/csrf': 'getCsrfToken',
  'GET /api/v1/auth/sessions': 'listSessions',
  'DELETE /api/v1/auth/sessions/{id}': 'revokeSession',
  'POST /api/v1/auth/password': 'changePassword',
  'POST /api/v1/auth/shopify/session': 'exchangeShopifySessionToken',
  'POST /api/v1/shops/{shopId}/switch': 'switchShop',
  'GET /api/v1/me': 'getMe',
  'GET /api/v1/me/security-events': 'listMySecurityEvents',
  'POST /api/v1/members': 'inviteMember',
  'PATCH /api/v1/members/{id}': 'changeMemberRole',
  'DELETE /api/v1/members/{id}': 'removeMember',
  'GET /api/v1/members/invitations': 'listInvitations',
  'DELETE /api/v1/members/invitations/{id}': 'revokeInvitation',
  'POST /api/v1/invitations/accept': 'acceptInvitation',
  'GET /api/v1/shopify/install': 'startShopifyInstall',
  'GET /api/v1/shopify/callback': 'completeShopifyInstall',
  'POST /api/v1/shopify/sync': 'startShopifySync',
  'GET /api/v1/shopify/sync': 'getShopifySync',
  'GET /api/v1/contacts/export': 'exportContacts',
  'GET /api/v1/contacts/{id}/consent': 'getContactConsentHistory',
  'POST /api/v1/contacts/{id}/consent': 'changeContactConsent',
  'GET /api/v1/contacts/{id}/data': 'exportContactData',
  'GET /api/v1/consent/verify': 'verifyConsentChain',
  'POST /api/v1/contacts/imports': 'createImport',
  'GET /api/v1/contacts/imports/{id}': 'getImport',
  'GET /api/v1/contacts/imports/{id}/errors': 'getImportErrors',
  'GET /api/v1/segments/{id}/count': 'countSegment',
  'GET /api/v1/settings': 'getSettings',
  'PUT /api/v1/settings': 'updateSettings',
  'GET /api/v1/billing/packages': 'listCreditPackages',
  'POST /api/v1/billing/purchases': 'createPurchase',
  'GET /api/v1/billing/purchases': 'listPurchases',
  'GET /api/v1/billing/purchases/:id': 'getPurchase',
  'POST /api/v1/billing/purchases/:id/confirm': 'confirmPurchase',
  'GET /api/v1/privacy/data-requests': 'listDataRequests',
  'GET /api/v1/privacy/data-requests/:id': 'getDataRequest',
  'GET /api/v1/wallet': 'getWallet',
  'GET /api/v1/wallet/transactions': 'listWalletTransactions',
  'POST /api/v1/campaigns/{id}/estimate': 'estimateCampaign',
  'GET /api/v1/campaigns/{id}/metrics': 'getCampaignMetrics',
  'POST /webhooks/sms/status': 'receiveSmsStatus',
  'POST /webhooks/sms/inbound': 'receiveSmsInbound',
  'POST /webhooks/shopify': 'receiveShopifyWebhook',
  'POST /webhooks/stripe': 'receiveStripeWebhook',
};

const camel = (words: string[]) =>
  words
    .flatMap((w) => w.split(/[-_]/))
    .filter(Boolean)
    .map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1).toLowerCase()))
    .join('');
const pascal = (words: string[]) => {
  const c = camel(words);
  return c ? c[0]!.toUpperCase() + c.slice(1) : '';
};
const singular = (word: string) => (word.endsWith('ies') ? `${word.slice(0, -3)}y` : word.endsWith('s') && !word.endsWith('ss') ? word.slice(0, -1) : word);

/** Fastify's `/a/:id` as OpenAPI's `/a/{id}`. */
export function openapiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/**
 * The rule, after the /api/v1 prefix:
 *   GET /things → listThings, POST /things → createThing,
 *   GET|PATCH|PUT|DELETE /things/{id} → getThing|updateThing|replaceThing|deleteThing,
 *   POST /things/{id}/verb → verbThing, GET /things/{id}/parts → listThingParts,
 *   anything else: the method and the path words (getFooBar).
 */
export function operationIdFor(method: string, url: string): string {
  const path = openapiPath(url);
  const key = `${method.toUpperCase()} ${path}`;
  const override = OVERRIDES[key];
  if (override) return override;
  const parts = path.replace(/^\/api\/v1\//, '/').split('/').filter(Boolean);
  const isParam = (s: string | undefined) => s !== undefined && s.startsWith('{');
  const last = parts[parts.length - 1];
  const m = method.toUpperCase();
  if (!isParam(last) && parts.length === 1) {
    if (m === 'GET') return camel(['list', last!]);
    if (m === 'POST') return camel(['create', singular(last!)]);
  }
  if (isParam(last) && parts.length === 2) {
    const verb = { GET: 'get', PATCH: 'update', PUT: 'replace', DELETE: 'delete' }[m];
    if (verb) return camel([verb, singular(parts[0]!)]);
  }
  if (!isParam(last) && parts.length === 3 && isParam(parts[1])) {
    if (m === 'POST') return camel([last!, singular(parts[0]!)]);
    if (m === 'GET') return camel(['list', singular(parts[0]!), last!]);
  }
  return camel([m.toLowerCase(), ...parts.filter((p) => !isParam(p))]);
}
