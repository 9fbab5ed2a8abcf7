// argon2id password hashes (@node-rs/argon2: prebuilt binaries, no build at install).
import { hash, verify } from '@node-rs/argon2';

// Algorithm.Argon2id in the package's const enum, which isolatedModules cannot read.
const ARGON2ID = 2;

export interface PasswordHashParams {
  /** KiB of memory per hash. */
  memoryCost: number;
  /** Passes over the memory. */
  timeCost: number;
  parallelism: number;
}

export async function hashPassword(password: string, params: PasswordHashParams): Promise<string> {
  return hash(password.normalize('NFKC'), { algorithm: ARGON2ID, ...params });
}

let verifications = 0;
/**
 * How many argon2 verifications this process has run. Lets a test prove, without timing,
 * that every sign-in path (unknown e-mail, locked account, wrong password) does the work.
 */
export function passwordVerificationCount(): number {
  return verifications;
}

/** False for a wrong password and for a hash that cannot be parsed; never throws. */
export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  verifications++;
  try {
    return await verify(passwordHash, password.normalize('NFKC'));
  } catch {
    return false;
  }
}

/** True when the stored hash was made with other parameters (rehash at the next sign-in). */
export function needsRehash(passwordHash: string, params: PasswordHashParams): boolean {
  const match = /^\$argon2id\$v=\d+\$m=(\d+),t=(\d+),p=(\d+)\$/.exec(passwordHash);
  if (!match) return true;
  return Number(match[1]) !== params.memoryCost || Number(match[2]) !== params.timeCost || Number(match[3]) !== params.parallelism;
}

const dummyHashes = new Map<string, Promise<string>>();

/**
 * Spends what a real verification spends, against a hash of a random password made with
 * the same parameters: an unknown e-mail must not answer faster than a wrong password.
 */
export async function dummyVerify(params: PasswordHashParams): Promise<void> {
  const key = `${params.memoryCost}:${params.timeCost}:${params.parallelism}`;
  let dummy = dummyHashes.get(key);
  if (!dummy) {
    dummy = hashPassword(crypto.randomUUID(), params);
    dummyHashes.set(key, dummy);
  }
  await verifyPassword(await dummy, 'not the password');
}
