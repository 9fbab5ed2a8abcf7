// What billing needs from Shopify to sell credits to a shop installed from Shopify: whether
// the shop is one, creating an AppPurchaseOneTime, and reading one back. Billing defines the
// interface and the Shopify module implements it (src/modules/shopify/app-purchases.ts), so
// billing never imports the Shopify module (which calls billing when a purchase webhook
// arrives): the dependency runs one way.
export interface ShopifyAppPurchase {
  /** gid://shopify/AppPurchaseOneTime/<n> */
  id: string;
  status: 'PENDING' | 'ACTIVE' | 'DECLINED' | 'EXPIRED';
  amountMinor: number | null;
  currency: string | null;
}

export interface ShopifyPurchaser {
  /** True when the shop was installed from Shopify and holds a live offline token. */
  isShopifyShop(shopId: string): Promise<boolean>;
  create(shopId: string, input: { name: string; amountMinor: number; currency: string; returnUrl: string }): Promise<{ purchase: ShopifyAppPurchase; confirmationUrl: string }>;
  /** Null when Shopify knows no such purchase for this shop. */
  read(shopId: string, purchaseId: string): Promise<ShopifyAppPurchase | null>;
}
