// The operator commands' flags: `--name value` pairs read from argv, and the one flag every
// shop-scoped command takes.

/** A reader of `--name value` flags (undefined when the flag is absent). */
export function flagReader(argv: readonly string[]): (name: string) => string | undefined {
  return (name) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
}

/** `--shop <uuid>`, required. */
export function requiredShopId(value: (name: string) => string | undefined): string {
  const shopId = value('shop');
  if (!shopId || !/^[0-9a-f-]{36}$/i.test(shopId)) throw new Error('--shop <shop uuid> is required');
  return shopId;
}
