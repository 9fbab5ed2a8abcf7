// The shop's Shopify access token at rest: AES-256-GCM under the key ring, bound to its shop
// and column, and re-encrypted under the newest key by `npm run keys:rotate`.
import type { Db } from '../../db/kysely.js';
import { withShop, type Tx } from '../../db/with-shop.js';
import { decryptString, encrypt, needsRotation, reencrypt, type KeyRing } from '../../lib/key-ring.js';
import { shopIdsForMaintenance } from '../settings/service.js';

// The AAD binds a ciphertext to its shop and column: copied into another row it fails.
const tokenAad = (shopId: string) => `app.shops.shopify_access_token:${shopId}`;

export async function storeShopifyAccessToken(tx: Tx, ring: KeyRing, shopId: string, accessToken: string): Promise<void> {
  await tx.updateTable('app.shops').set({ shopify_access_token: encrypt(ring, accessToken, tokenAad(shopId)) }).where('id', '=', shopId).execute();
}

/** The plaintext token, or null when the shop has none. Tampered ciphertext throws. */
export async function readShopifyAccessToken(tx: Tx, ring: KeyRing, shopId: string): Promise<string | null> {
  const row = await tx.selectFrom('app.shops').select('shopify_access_token').where('id', '=', shopId).executeTakeFirst();
  return row?.shopify_access_token ? decryptString(ring, row.shopify_access_token, tokenAad(shopId)) : null;
}

/**
 * Re-encrypts every shop's token under the newest key (npm run keys:rotate). One short
 * transaction per shop; safe to run again (already-current tokens are left alone).
 */
export async function rotateShopTokens(db: Db, ring: KeyRing): Promise<{ shops: number; rotated: number }> {
  const shopIds = await shopIdsForMaintenance(db);
  let rotated = 0;
  for (const shopId of shopIds) {
    const changed = await withShop(db, shopId, async (tx) => {
      const row = await tx.selectFrom('app.shops').select('shopify_access_token').where('id', '=', shopId).forUpdate().executeTakeFirst();
      const current = row?.shopify_access_token;
      if (!current || !needsRotation(ring, current)) return false;
      await tx.updateTable('app.shops').set({ shopify_access_token: reencrypt(ring, current, tokenAad(shopId)) }).where('id', '=', shopId).execute();
      return true;
    });
    if (changed) rotated++;
  }
  return { shops: shopIds.length, rotated };
}
