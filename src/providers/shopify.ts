// Shopify's Admin OAuth endpoints, as Pigeon calls them. Every call has a timeout and
// answers with a typed error; no response body or token is ever put in an error message.
import { normalizeShopDomain } from '../lib/shopify-domain.js';

export class ShopifyRequestError extends Error {
  constructor(
    readonly code: 'TIMEOUT' | 'NETWORK' | 'HTTP_STATUS' | 'BAD_RESPONSE',
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'ShopifyRequestError';
  }
}

export interface ShopifyClientOptions {
  apiKey: string;
  apiSecret: string;
  /** `https://{shop}` in production; a fake's address in tests. */
  adminUrlTemplate: string;
  timeoutMs?: number;
}

/** The base URL of a shop's admin. The shop must already be a valid myshopify domain. */
export function shopAdminUrl(template: string, shop: string): string {
  // Re-checked here because the value becomes a request target.
  if (normalizeShopDomain(shop) !== shop) throw new TypeError('not a myshopify.com shop domain');
  return template.replace('{shop}', shop).replace(/\/+$/, '');
}

/** Where the merchant approves the app: Shopify's authorize page for this shop. */
export function authorizeUrl(opts: ShopifyClientOptions, shop: string, params: { scopes: string; redirectUri: string; state: string }): string {
  const url = new URL(`${shopAdminUrl(opts.adminUrlTemplate, shop)}/admin/oauth/authorize`);
  url.searchParams.set('client_id', opts.apiKey);
  url.searchParams.set('scope', params.scopes);
  url.searchParams.set('redirect_uri', params.redirectUri);
  url.searchParams.set('state', params.state);
  return url.toString();
}

/** Trades an authorization code for the shop's offline access token. */
export async function exchangeAuthorizationCode(opts: ShopifyClientOptions, shop: string, code: string): Promise<{ accessToken: string; scope: string }> {
  const url = `${shopAdminUrl(opts.adminUrlTemplate, shop)}/admin/oauth/access_token`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ client_id: opts.apiKey, client_secret: opts.apiSecret, code }),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 10_000),
      redirect: 'error',
    });
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError');
    throw new ShopifyRequestError(timedOut ? 'TIMEOUT' : 'NETWORK', timedOut ? 'Shopify did not answer in time' : 'Shopify could not be reached');
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new ShopifyRequestError('HTTP_STATUS', `Shopify answered ${response.status} to the code exchange`, response.status);
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw new ShopifyRequestError('BAD_RESPONSE', 'Shopify answered the code exchange with something other than JSON');
  }
  const { access_token: accessToken, scope } = (body ?? {}) as { access_token?: unknown; scope?: unknown };
  if (typeof accessToken !== 'string' || accessToken.length === 0 || accessToken.length > 1024 || typeof scope !== 'string') {
    throw new ShopifyRequestError('BAD_RESPONSE', 'Shopify answered the code exchange without a token');
  }
  return { accessToken, scope };
}
