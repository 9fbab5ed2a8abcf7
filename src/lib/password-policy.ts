// The password policy: 12-128 characters, not a common password, not built on the e-mail.
// The common list is zxcvbn-ts's (about 49,000 leaked passwords), shipped in the package:
// no network call.
import { dictionary } from '@zxcvbn-ts/language-common';

export type PasswordProblem = 'too_short' | 'too_long' | 'common' | 'contains_email';
export type PasswordCheck = { ok: true } | { ok: false; reasons: PasswordProblem[] };

export const PASSWORD_MIN_LENGTH = 12;
export const PASSWORD_MAX_LENGTH = 128;

let common: Set<string> | undefined;
function commonPasswords(): Set<string> {
  common ??= new Set((dictionary['passwords-common'] as string[]).map((p) => p.toLowerCase()));
  return common;
}

export function checkPassword(password: string, context: { email?: string } = {}): PasswordCheck {
  const normalized = password.normalize('NFKC');
  // Code points, not UTF-16 units: an emoji is one character to the user.
  const length = [...normalized].length;
  const reasons: PasswordProblem[] = [];
  if (length < PASSWORD_MIN_LENGTH) reasons.push('too_short');
  if (length > PASSWORD_MAX_LENGTH) reasons.push('too_long');
  const lower = normalized.toLowerCase();
  if (commonPasswords().has(lower)) reasons.push('common');
  const email = context.email?.trim().toLowerCase();
  if (email) {
    const local = email.split('@')[0] ?? '';
    if (lower.includes(email) || (local.length >= 3 && lower.includes(local))) reasons.push('contains_email');
  }
  return reasons.length === 0 ? { ok: true } : { ok: false, reasons };
}
