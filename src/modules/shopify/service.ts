// Shopify: the OAuth install (which creates or re-links a shop) and the session-token
// exchange (which signs a Shopify staff user in to the shop they are working in).
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Config } from '../../config.js';
import type { MemberRole } from '../../db/database.js';
import type { Db } from '../../db/kysely.js';
import { withoutTenant, withShop, type Tx } from '../../db/with-shop.js';
import { addShopJob } from '../../jobs/catalogue.js';
import { AppError } from '../../lib/app-error.js';
import type { KeyRing } from '../../lib/key-ring.js';
import { tokenHash } from '../../lib/keyed-hash.js';
import { normalizeShopDomain } from '../../lib/shopify-domain.js';
import { verifyOAuthCallbackHmac, type QueryParams } from '../../lib/shopify-hmac.js';
import { ShopifyTokenError, verifyShopifySessionToken } from '../../lib/shopify-session-token.js';
import { authorizeUrl, exchangeAuthorizationCode, type ShopifyClientOptions } from '../../providers/shopify.js';
import { auditFields, recordAuditEvent, type ClientInfo } from '../audit/service.js';
import { createSession, type IssuedSession } from '../auth/service.js';
import { removeSendingHold } from '../settings/service.js';
import { storeShopifyAccessToken } from './access-token.js';
import { UNINSTALLED_HOLD } from './uninstall.js';

export const OAUTH_STATE_TTL_SECONDS = 600;
/** Skew allowed between a signed callback's `timestamp` and our clock, either way (Shopify's library uses 90 s). */
export const OAUTH_TIMESTAMP_SKEW_SECONDS = 90;

/** The signed `timestamp` (whole seconds) is within the allowed skew of now. */
function timestampIsFresh(value: unknown, nowMs = Date.now()): boolean {
  if (typeof value !== 'string' || !/^[0-9]{1,12}$/.test(value)) return false;
  return Math.abs(nowMs / 1000 - Number(value)) <= OAUTH_TIMESTAMP_SKEW_SECONDS;
}

export function shopifyClient(config: Config): ShopifyClientOptions {
  if (!config.shopifyApiKey || !config.shopifyApiSecret) {
    throw new AppError(503, 'SHOPIFY_NOT_CONFIGURED', 'This server has no Shopify app configured');
  }
  return { apiKey: config.shopifyApiKey, apiSecret: config.shopifyApiSecret, adminUrlTemplate: config.shopifyAdminUrl };
}

const shopIdFor = async (tx: Tx, shop: string): Promise<string | null> => {
  const { rows } = await sql<{ id: string | null }>`select app_private.shop_id_for_shopify_domain(${shop}) as id`.execute(tx);
  return rows[0]?.id ?? null;
};

/**
 * Step 1 of the install: a fresh state (32 random bytes; only its hash is stored, for one
 * shop, for ten minutes) and Shopify's authorize URL. The caller also hands the state to
 * the browser in a cookie, so the callback must come back to the browser that started.
 */
export async function beginInstall(db: Db, config: Config, query: QueryParams, redirectUri: string): Promise<{ state: string; location: string }> {
  const client = shopifyClient(config);
  const shop = normalizeShopDomain(query.shop);
  if (!shop) throw new AppError(400, 'INVALID_SHOP', 'shop must be a *.myshopify.com domain', { field: 'querystring.shop' });
  // Shopify signs the install link it opens from the admin; a link that claims a signature
  // must carry a valid one. (A merchant typing their domain on our page has none.)
  if (query.hmac !== undefined && !verifyOAuthCallbackHmac(query, client.apiSecret)) {
    throw new AppError(401, 'INVALID_HMAC', 'The request signature does not verify');
  }
  const state = randomBytes(32).toString('base64url');
  await withoutTenant(db, (tx) => sql`select app_private.create_shopify_oauth_state(${tokenHash(state)}, ${shop}, ${OAUTH_STATE_TTL_SECONDS})`.execute(tx));
  return { state, location: authorizeUrl(client, shop, { scopes: config.shopifyScopes, redirectUri, state }) };
}

/** Every requested scope was granted (a write_x grant includes read_x). */
function scopesGranted(requested: string, granted: string): boolean {
  const have = new Set(granted.split(',').map((s) => s.trim()));
  return requested.split(',').every((scope) => have.has(scope) || (scope.startsWith('read_') && have.has(`write_${scope.slice(5)}`)));
}

/**
 * Step 2: the callback. The query HMAC, the shop domain, the browser's state cookie and the
 * stored state are all checked before anything else happens (no outbound call, no write);
 * the state is used up by that check whatever its outcome. Only then is the code exchanged
 * and the shop created (or, on a reinstall, found) and its token stored encrypted.
 */
export async function completeInstall(
  db: Db,
  config: Config,
  ring: KeyRing,
  query: QueryParams,
  browserState: string | undefined,
  request: ClientInfo,
): Promise<{ shopId: string; shop: string; created: boolean }> {
  const client = shopifyClient(config);
  if (!verifyOAuthCallbackHmac(query, client.apiSecret)) throw new AppError(401, 'INVALID_HMAC', 'The request signature does not verify');
  // A signed callback URL is replayable for as long as it is accepted: Shopify's own library
  // refuses a timestamp more than 90 seconds off, in either direction.
  if (!timestampIsFresh(query.timestamp)) throw new AppError(401, 'STALE_CALLBACK', 'The callback is too old or dated in the future; start the install again');
  const shop = normalizeShopDomain(query.shop);
  if (!shop || shop !== query.shop) throw new AppError(400, 'INVALID_SHOP', 'shop must be a *.myshopify.com domain', { field: 'querystring.shop' });
  const { state, code } = query;
  if (typeof state !== 'string' || typeof code !== 'string' || code.length === 0 || code.length > 512) {
    throw new AppError(400, 'INVALID_CALLBACK', 'state and code are required');
  }
  const stateMatchesBrowser = typeof browserState === 'string' && browserState === state;
  const stateIsLive = await withoutTenant(db, async (tx) => {
    const { rows } = await sql<{ ok: boolean }>`select app_private.consume_shopify_oauth_state(${tokenHash(state)}, ${shop}) as ok`.execute(tx);
    return rows[0]?.ok === true;
  });
  if (!stateIsLive || !stateMatchesBrowser) throw new AppError(401, 'INVALID_STATE', 'The install state is unknown, expired, already used or from another browser');

  const granted = await exchangeAuthorizationCode(client, shop, code).catch(() => {
    // The state is spent: the merchant starts the install again from the admin.
    throw new AppError(502, 'SHOPIFY_UNAVAILABLE', 'Shopify did not complete the install; start it again');
  });
  if (!scopesGranted(config.shopifyScopes, granted.scope)) {
    throw new AppError(403, 'SCOPES_NOT_GRANTED', 'The install did not grant the access Pigeon needs');
  }
  const audit = auditFields(config.ipHashSecret, request);
  // Two callbacks for one new shop can race (two browser tabs): the unique domain lets
  // one insert win and the other find the shop on its second look.
  for (let attempt = 0; ; attempt++) {
    const existing = await withoutTenant(db, (tx) => shopIdFor(tx, shop));
    const shopId = existing ?? randomUUID();
    try {
      await withShop(db, shopId, async (tx) => {
        if (!existing) {
          await tx.insertInto('app.shops').values({ id: shopId, name: shop.slice(0, -'.myshopify.com'.length), shopify_domain: shop }).execute();
          await tx.insertInto('app.shop_settings').values({ shop_id: shopId }).execute();
        }
        await storeShopifyAccessToken(tx, ring, shopId, granted.accessToken);
        // A reinstall lifts what the uninstall did (uninstall.ts); an app/uninstalled
        // triggered before this moment changes nothing when it arrives late.
        await tx.updateTable('app.shops').set({ uninstalled_at: null, shopify_installed_at: new Date() }).where('id', '=', shopId).execute();
        if (existing) await removeSendingHold(tx, shopId, UNINSTALLED_HOLD);
        // The webhook subscriptions are made (or, on a reinstall, checked) by a job, so the
        // callback never waits for the Admin API and a Shopify outage is retried.
        await addShopJob(tx, 'shopify_webhook_subscriptions', { shopId });
        await recordAuditEvent(tx, {
          shopId,
          action: existing ? 'shop.reinstall' : 'shop.install',
          resourceType: 'shop',
          resourceId: shopId,
          result: 'success',
          metadata: { shop, scopes: granted.scope },
          ...audit,
        });
      });
      return { shopId, shop, created: !existing };
    } catch (error) {
      if ((error as { code?: string }).code === '23505' && attempt === 0) continue;
      throw error;
    }
  }
}

export type ShopifySessionOutcome = IssuedSession & { shopName: string; created: boolean };

/**
 * The embedded app's sign-in: a verified session token for an installed shop becomes a
 * Pigeon session for the staff user it names. The first staff user of a shop with no
 * members becomes its owner; later ones join as members (an owner promotes them).
 */
export async function exchangeSessionToken(db: Db, config: Config, sessionToken: string, request: ClientInfo): Promise<ShopifySessionOutcome> {
  const client = shopifyClient(config);
  let verified;
  try {
    verified = verifyShopifySessionToken(sessionToken, { apiKey: client.apiKey, apiSecret: client.apiSecret, leewaySeconds: config.shopifySessionTokenLeewaySeconds });
  } catch (error) {
    if (error instanceof ShopifyTokenError) throw new AppError(401, 'INVALID_SESSION_TOKEN', 'The Shopify session token is not valid');
    throw error;
  }
  const shopifyUserId = verified.userId;
  if (!shopifyUserId || !/^[0-9]{1,20}$/.test(shopifyUserId)) {
    throw new AppError(401, 'INVALID_SESSION_TOKEN', 'The Shopify session token names no staff user');
  }
  const shopId = await withoutTenant(db, (tx) => shopIdFor(tx, verified.shop));
  if (!shopId) throw new AppError(401, 'SHOP_NOT_INSTALLED', 'Install the app on this shop first');
  const audit = auditFields(config.ipHashSecret, request);

  // Find or create the Pigeon identity for this staff user. A new user id is the context
  // user of this transaction so that RLS lets it insert the user row.
  const candidateUserId = randomUUID();
  const identity = await withShop(
    db,
    shopId,
    async (tx) => {
      // One exchange at a time per shop decides who is first (and so the owner).
      await tx.selectFrom('app.shops').select('id').where('id', '=', shopId).forUpdate().execute();
      const known = await tx
        .selectFrom('app.shopify_staff as s')
        .innerJoin('app.memberships as m', (join) => join.onRef('m.shop_id', '=', 's.shop_id').onRef('m.user_id', '=', 's.user_id'))
        .select(['s.user_id', 'm.role'])
        .where('s.shop_id', '=', shopId)
        .where('s.shopify_user_id', '=', shopifyUserId)
        .executeTakeFirst();
      if (known) return { userId: known.user_id, role: known.role, created: false };
      const members = await tx.selectFrom('app.memberships').select('user_id').where('shop_id', '=', shopId).limit(1).execute();
      const role: MemberRole = members.length === 0 ? 'owner' : 'member';
      await tx.insertInto('app.users').values({ id: candidateUserId, email: null }).execute();
      await tx.insertInto('app.memberships').values({ shop_id: shopId, user_id: candidateUserId, role }).execute();
      await tx.insertInto('app.shopify_staff').values({ shop_id: shopId, shopify_user_id: shopifyUserId, user_id: candidateUserId }).execute();
      await recordAuditEvent(tx, { shopId, userId: candidateUserId, action: 'member.add', resourceType: 'user', resourceId: candidateUserId, result: 'success', metadata: { role, via: 'shopify' }, ...audit });
      return { userId: candidateUserId, role, created: true };
    },
    candidateUserId,
  );

  return withShop(
    db,
    shopId,
    async (tx) => {
      const session = await createSession(tx, config, identity.userId, shopId, request);
      await recordAuditEvent(tx, { shopId, userId: identity.userId, action: 'auth.login', resourceType: 'session', resourceId: session.sessionId, result: 'success', metadata: { via: 'shopify_session_token' }, ...audit });
      const shopRow = await tx.selectFrom('app.shops').select('name').where('id', '=', shopId).executeTakeFirstOrThrow();
      return { userId: identity.userId, shopId, role: identity.role, ...session, shopName: shopRow.name, created: identity.created };
    },
    identity.userId,
  );
}
