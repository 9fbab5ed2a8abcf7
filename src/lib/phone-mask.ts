// A phone number reduced to what a person needs to find the row in their own file: the
// last four digits (two for 5–7 digits, none for fewer, where four would be most of it),
// the rest '*', a leading '+' kept. Import error reports show this instead of the line,
// which held the person's phone, e-mail and names. migrations/0070 applies the same rule
// in SQL to the rows it rewrote.
const MAX_STARS = 16;

export function maskPhone(text: string | null | undefined): string | null {
  if (!text) return null;
  const digits = text.replace(/[^0-9]/g, '');
  if (digits.length === 0) return null;
  const shown = digits.length >= 8 ? 4 : digits.length >= 5 ? 2 : 0;
  const plus = text.trimStart().startsWith('+') ? '+' : '';
  return plus + '*'.repeat(Math.min(digits.length - shown, MAX_STARS)) + digits.slice(digits.length - shown);
}
