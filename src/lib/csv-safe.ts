// CSV cells that a spreadsheet would run as a formula (=, +, -, @, tab, carriage return at
// the start) get a leading apostrophe, OWASP's advice against CSV injection. Applied to
// every cell Pigeon writes into a CSV for people to open.
const FORMULA_START = /^[=+\-@\t\r]/;

export function neutraliseCell(value: string | number | boolean | null | undefined): string {
  if (value === null || value === undefined) return '';
  const text = String(value);
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/** One CSV line (RFC 4180 quoting), cells neutralised. */
export function csvLine(cells: Array<string | number | boolean | null | undefined>): string {
  return (
    cells
      .map((cell) => {
        const text = neutraliseCell(cell);
        return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
      })
      .join(',') + '\r\n'
  );
}
