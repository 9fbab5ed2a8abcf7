// Encryption at rest for secrets Pigeon must be able to read back (a shop's Shopify access
// token, provider credentials): AES-256-GCM under a key ring from config.
//
// Why a ring: keys have to be rotatable without downtime. Every ciphertext names the key
// that sealed it, the newest key in the ring seals everything new, and older keys stay in
// the ring only until `keys:rotate` has re-encrypted their rows; then they are dropped.
//
// Why random 96-bit nonces are fine: GCM breaks completely if a (key, nonce) pair is ever
// reused. With random 96-bit IVs the chance of a collision after n messages is about
// n^2 / 2^97, and NIST SP 800-38D caps random-IV use at 2^32 messages per key to keep it
// below 2^-32. Pigeon encrypts a handful of values per shop, orders of magnitude under that,
// and rotation resets the count per key. A counter nonce would need shared state across
// processes, which is exactly what a pure helper cannot have.
//
// Token format (compact, ASCII, safe in a text column and a log line):
//   v1.<kid>.<base64url iv, 12 bytes>.<base64url ciphertext>.<base64url tag, 16 bytes>
// The version and kid are fed to GCM as part of the additional authenticated data, so
// editing either is detected, and so is the caller's AAD (e.g.
// "shops.shopify_access_token:<shopId>"), which binds a ciphertext to its row and column:
// copying one shop's token into another shop's row fails to decrypt instead of handing
// shop B shop A's credentials.
//
// No I/O and no logging here: callers load the spec from config and decide what to do
// with errors. Error messages never contain key material, plaintext or the token.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/;

export type KeyRingErrorCode =
  /** The key ring spec (config) is unusable. */
  | 'INVALID_KEY_SPEC'
  /** The token names a key id that is not in the ring (dropped too early, or wrong env). */
  | 'UNKNOWN_KEY'
  /** The token is not a well-formed token of a version this code understands. */
  | 'MALFORMED'
  /** The token is well-formed but does not authenticate: edited, or wrong AAD/row. */
  | 'TAMPERED';

export class KeyRingError extends Error {
  constructor(
    readonly code: KeyRingErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'KeyRingError';
  }
}

export interface KeyRingEntry {
  kid: string;
  key: Buffer;
}

// Key material lives outside the ring object, reachable only from this module: nothing
// else can read a key, and JSON.stringify / util.inspect / a logger serialising a config
// object that holds a ring sees key ids only.
const keyMaterial = new WeakMap<KeyRing, Map<string, Buffer>>();

function keyFor(ring: KeyRing, kid: string): Buffer {
  const key = keyMaterial.get(ring)?.get(kid);
  if (key === undefined) throw new KeyRingError('UNKNOWN_KEY', `no key with id "${kid}" in the key ring`);
  return key;
}

/** A set of AES-256 keys by id; the last one is the one that encrypts. */
export class KeyRing {
  /** Key ids in config order, oldest first. */
  readonly kids: readonly string[];
  /** The key id new ciphertexts are sealed with. */
  readonly currentKid: string;

  constructor(entries: readonly KeyRingEntry[]) {
    const keys = new Map<string, Buffer>();
    if (entries.length === 0) throw new KeyRingError('INVALID_KEY_SPEC', 'key ring is empty: at least one key is required');
    entries.forEach(({ kid, key }, index) => {
      const where = `key ring entry #${index + 1}`;
      if (!KID_PATTERN.test(kid)) {
        // The kid is not echoed: a malformed "kid" may well be a pasted key.
        throw new KeyRingError('INVALID_KEY_SPEC', `${where}: key id must match ${KID_PATTERN.source}`);
      }
      if (keys.has(kid)) {
        throw new KeyRingError('INVALID_KEY_SPEC', `${where} (kid "${kid}"): duplicate key id`);
      }
      if (key.length !== KEY_BYTES) {
        throw new KeyRingError('INVALID_KEY_SPEC', `${where} (kid "${kid}"): key must be exactly ${KEY_BYTES} bytes, got ${key.length}`);
      }
      // Copy, so a caller zeroing or reusing its buffer cannot change the ring.
      keys.set(kid, Buffer.from(key));
    });
    this.kids = Object.freeze(entries.map((e) => e.kid));
    this.currentKid = this.kids[this.kids.length - 1]!;
    keyMaterial.set(this, keys);
  }

  has(kid: string): boolean {
    return this.kids.includes(kid);
  }

  toJSON(): { kids: readonly string[]; currentKid: string } {
    return { kids: this.kids, currentKid: this.currentKid };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `KeyRing { kids: [${this.kids.join(', ')}], currentKid: ${this.currentKid} }`;
  }
}

/** Builds a ring from raw keys (tests, CLI). The last entry is the newest. */
export function createKeyRing(entries: readonly KeyRingEntry[]): KeyRing {
  return new KeyRing(entries);
}

/**
 * Parses the config format `kid1:base64key,kid2:base64key` (oldest first; the LAST entry
 * encrypts). Whitespace around entries is ignored so multi-line env values work. Keys may
 * be standard or URL-safe base64, padded or not, and must decode to exactly 32 bytes.
 */
export function parseKeyRing(spec: string): KeyRing {
  if (spec.trim() === '') throw new KeyRingError('INVALID_KEY_SPEC', 'key ring is empty: expected "kid:base64key[,kid:base64key…]"');
  const entries = spec.split(',').map((raw, index): KeyRingEntry => {
    const where = `key ring entry #${index + 1}`;
    const entry = raw.trim();
    if (entry === '') throw new KeyRingError('INVALID_KEY_SPEC', `${where} is empty (stray comma?)`);
    const colon = entry.indexOf(':');
    if (colon < 0) {
      // Most likely a bare key without its id: say so without echoing it.
      throw new KeyRingError('INVALID_KEY_SPEC', `${where}: expected "kid:base64key" (no ":" found)`);
    }
    const kid = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    if (!KID_PATTERN.test(kid)) {
      throw new KeyRingError('INVALID_KEY_SPEC', `${where}: key id must match ${KID_PATTERN.source}`);
    }
    const key = decodeKey(encoded);
    if (key === null) {
      throw new KeyRingError('INVALID_KEY_SPEC', `${where} (kid "${kid}"): key is not valid base64`);
    }
    if (key.length !== KEY_BYTES) {
      throw new KeyRingError('INVALID_KEY_SPEC', `${where} (kid "${kid}"): key must decode to exactly ${KEY_BYTES} bytes, got ${key.length}`);
    }
    return { kid, key };
  });
  return new KeyRing(entries);
}

/** `kid:<base64 of 32 random bytes>`, ready to append to the key ring config. */
export function generateKeySpec(kid: string): string {
  if (!KID_PATTERN.test(kid)) throw new KeyRingError('INVALID_KEY_SPEC', `key id must match ${KID_PATTERN.source}`);
  return `${kid}:${randomBytes(KEY_BYTES).toString('base64')}`;
}

/** Seals `plaintext` under the ring's newest key. `aad` should name the row and column. */
export function encrypt(ring: KeyRing, plaintext: string | Buffer, aad?: string): string {
  const kid = ring.currentKid;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv(ALGORITHM, keyFor(ring, kid), iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(additionalData(VERSION, kid, aad));
  const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
  const ciphertext = Buffer.concat([cipher.update(data), cipher.final()]);
  const tag = cipher.getAuthTag();
  return [VERSION, kid, iv.toString('base64url'), ciphertext.toString('base64url'), tag.toString('base64url')].join('.');
}

/** Opens a token sealed by `encrypt` with the same `aad`; throws KeyRingError otherwise. */
export function decrypt(ring: KeyRing, token: string, aad?: string): Buffer {
  const parsed = parseToken(token);
  const key = keyFor(ring, parsed.kid);
  const decipher = createDecipheriv(ALGORITHM, key, parsed.iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(additionalData(parsed.version, parsed.kid, aad));
  decipher.setAuthTag(parsed.tag);
  const plaintext = decipher.update(parsed.ciphertext);
  try {
    // final() is where GCM checks the tag; nothing from update() is returned before that.
    return Buffer.concat([plaintext, decipher.final()]);
  } catch {
    plaintext.fill(0);
    throw new KeyRingError('TAMPERED', 'ciphertext failed authentication (tampered, or decrypted with the wrong AAD)');
  }
}

export function decryptString(ring: KeyRing, token: string, aad?: string): string {
  return decrypt(ring, token, aad).toString('utf8');
}

/** The key id a token was sealed with, without decrypting it. Throws MALFORMED. */
export function tokenKeyId(token: string): string {
  return parseToken(token).kid;
}

/** True when the token was not sealed by the ring's newest key (so `keys:rotate` should rewrite it). */
export function needsRotation(ring: KeyRing, token: string): boolean {
  return parseToken(token).kid !== ring.currentKid;
}

/** Decrypts with whichever key sealed the token and re-seals under the newest key, same AAD. */
export function reencrypt(ring: KeyRing, token: string, aad?: string): string {
  const plaintext = decrypt(ring, token, aad);
  try {
    return encrypt(ring, plaintext, aad);
  } finally {
    plaintext.fill(0);
  }
}

interface ParsedToken {
  version: string;
  kid: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function parseToken(token: string): ParsedToken {
  if (typeof token !== 'string') throw malformed('not a string');
  const parts = token.split('.');
  if (parts.length !== 5) throw malformed('wrong number of parts');
  const [version, kid, ivText, ciphertextText, tagText] = parts as [string, string, string, string, string];
  // Unknown versions are refused rather than guessed at: a future format may lay out
  // the same bytes differently, and the version is authenticated anyway.
  if (version !== VERSION) throw malformed('unsupported version');
  if (!KID_PATTERN.test(kid)) throw malformed('invalid key id');
  const iv = decodeBase64url(ivText, 'iv');
  const ciphertext = decodeBase64url(ciphertextText, 'ciphertext');
  const tag = decodeBase64url(tagText, 'tag');
  if (iv.length !== IV_BYTES) throw malformed(`iv must be ${IV_BYTES} bytes`);
  // An explicit length check, because a truncated GCM tag is a forgery shortcut.
  if (tag.length !== TAG_BYTES) throw malformed(`tag must be ${TAG_BYTES} bytes`);
  return { version, kid, iv, ciphertext, tag };
}

function malformed(reason: string): KeyRingError {
  return new KeyRingError('MALFORMED', `malformed ciphertext token: ${reason}`);
}

// Buffer.from(…, 'base64url') silently skips junk characters and ignores non-zero
// trailing bits, so several strings would decode to the same bytes. Requiring the
// canonical encoding keeps exactly one valid spelling per token.
function decodeBase64url(text: string, what: string): Buffer {
  if (!BASE64URL_PATTERN.test(text)) throw malformed(`${what} is not base64url`);
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.toString('base64url') !== text) throw malformed(`${what} is not canonical base64url`);
  return bytes;
}

function decodeKey(text: string): Buffer | null {
  const unpadded = text.replace(/=+$/, '');
  if (text.length - unpadded.length > 2) return null;
  let bytes: Buffer;
  if (/^[A-Za-z0-9+/]+$/.test(unpadded)) bytes = Buffer.from(unpadded, 'base64');
  else if (/^[A-Za-z0-9_-]+$/.test(unpadded)) bytes = Buffer.from(unpadded, 'base64url');
  else return null;
  // Reject non-canonical spellings (e.g. a truncated paste that still decodes).
  if (bytes.toString('base64url') !== unpadded.replace(/\+/g, '-').replace(/\//g, '_')) return null;
  return bytes;
}

// Length-prefixed parts so no choice of caller AAD can collide with another
// (version, kid, aad) triple; kid cannot contain ".", but the caller's AAD can.
function additionalData(version: string, kid: string, aad: string | undefined): Buffer {
  const parts = ['pigeon-key-ring', version, kid, aad ?? ''].map((p) => Buffer.from(p, 'utf8'));
  const out: Buffer[] = [];
  for (const part of parts) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part.length);
    out.push(length, part);
  }
  return Buffer.concat(out);
}
