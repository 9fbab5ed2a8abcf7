// Keyed hashes for values that must be comparable but not recoverable: client IPs in the
// audit log and sessions, user-agent fingerprints. HMAC, so a leaked table cannot be
// reversed by hashing every IPv4 address.
import { createHash, createHmac } from 'node:crypto';

export function keyedHash(secret: string, value: string): string {
  return createHmac('sha256', secret).update(value).digest('base64url');
}

/** Refresh tokens are stored as their SHA-256: high-entropy, so no key is needed. */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
