// Amounts between decimal strings (as Shopify writes them: "15.0") and integer minor units
// (cents), per currency (JPY has none, KWD three). Pure.
/** Minor units of an amount written as a decimal string ("15.0") in a currency. */
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
