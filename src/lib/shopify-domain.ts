// What counts as a Shopify shop. Shop domains reach us from query strings (install,
// OAuth callback), session-token claims and webhook headers, all of them attacker-supplied
// until verified, and the value ends up in outbound URLs (`https://${shop}/admin/oauth/…`).
// One strict pattern, applied everywhere, so `evil.com/.myshopify.com`,
// `x.myshopify.com.evil.com` or `user@x.myshopify.com` can never become a request target.

const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]*\.myshopify\.com$/;
const SUFFIX_LENGTH = '.myshopify.com'.length;
const MAX_DOMAIN_LENGTH = 255;
// A DNS label cannot be longer than 63 octets, so no real shop is refused by this.
const MAX_LABEL_LENGTH = 63;
// Printable ASCII without space. Checked before lowercasing because toLowerCase() maps some
// non-ASCII characters onto ASCII ones: 'K' (U+212A KELVIN SIGN) becomes 'k'.
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/** The shop domain exactly as given (no trimming), lowercased, or null. */
function canonicalShopDomain(host: string): string | null {
  if (host.length === 0 || host.length > MAX_DOMAIN_LENGTH) return null;
  if (!PRINTABLE_ASCII.test(host)) return null;
  const lower = host.toLowerCase();
  if (!SHOP_DOMAIN.test(lower)) return null;
  if (lower.length - SUFFIX_LENGTH > MAX_LABEL_LENGTH) return null;
  return lower;
}

/**
 * `foo.myshopify.com` (trimmed, lowercased) or null. Accepts only
 * `^[a-z0-9][a-z0-9-]*\.myshopify\.com$`: no scheme, port, path, userinfo, trailing dot,
 * nested subdomain, or non-ASCII look-alike.
 */
export function normalizeShopDomain(input: unknown): string | null {
  if (typeof input !== 'string') return null;
  // Cheap guard before trim() on something absurd; the real limit is checked after trimming.
  if (input.length > 4 * MAX_DOMAIN_LENGTH) return null;
  return canonicalShopDomain(input.trim());
}

/**
 * The shop of `https://foo.myshopify.com` or `https://foo.myshopify.com/` (a session token's
 * `dest`), or null. https only (scheme in lowercase, as Shopify sends it); no port,
 * userinfo, query, fragment, surrounding whitespace or other path.
 */
export function shopDomainFromUrl(input: unknown): string | null {
  if (typeof input !== 'string' || !input.startsWith('https://')) return null;
  let host = input.slice('https://'.length);
  if (host.endsWith('/')) host = host.slice(0, -1);
  return canonicalShopDomain(host);
}

/** The shop of `https://foo.myshopify.com/admin` (a session token's `iss`), or null. */
export function shopDomainFromAdminUrl(input: unknown): string | null {
  if (typeof input !== 'string' || !input.startsWith('https://') || !input.endsWith('/admin')) return null;
  return canonicalShopDomain(input.slice('https://'.length, -'/admin'.length));
}
