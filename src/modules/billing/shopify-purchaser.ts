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

/** Minor units of an amount Shopify writes as a decimal string ("15.0") in a currency. */
export function minorUnits(amount: string, currency: string): number | null {
  if (!/^\d{1,12}(\.\d{1,6})?$/.test(amount)) return null;
  const digits = currencyDigits(currency);
  const [whole, fraction = ''] = amount.split('.');
  if (fraction.replace(/0+$/, '').length > digits) return null; // more precision than the currency has
  return Number(whole) * 10 ** digits + Number((fraction + '0'.repeat(digits)).slice(0, digits) || '0');
}

/** The decimal string of minor units in a currency ("15.00" for 1500 usd). */
export function decimalAmount(amountMinor: number, currency: string): string {
  const digits = currencyDigits(currency);
  if (digits === 0) return String(amountMinor);
  const text = String(amountMinor).padStart(digits + 1, '0');
  return `${text.slice(0, -digits)}.${text.slice(-digits)}`;
}

function currencyDigits(currency: string): number {
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}
