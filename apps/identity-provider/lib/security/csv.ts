import { stringify } from 'csv-stringify/browser/esm/sync';

export type CsvValue = string | number | boolean | null | undefined | Record<string, unknown> | unknown[];

/**
 * A cell a spreadsheet will not run: text starting with a TAB, CR or LF, or with = + - @ after any leading
 * whitespace, is prefixed with a quote (OWASP "CSV injection"), whatever separator the spreadsheet
 * splits on; objects become JSON.
 */
export function neutralizedCell(value: CsvValue): string {
  if (value === null || value === undefined) return '';
  // numbers and booleans are data, not formulas (-5 stays -5)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  const text = typeof value === 'object' ? JSON.stringify(value) : value;
  return /^[\t\r\n]|^\s*[=+\-@]/.test(text) ? `'${text}` : text;
}

/**
 * RFC 4180 CSV through csv-stringify (every cell quoted, CRLF line ends), cells neutralised first. One
 * writer for the audit export (server, a row at a time) and the dashboard's downloads (browser).
 */
export function toCsv(rows: CsvValue[][]): string {
  return stringify(
    rows.map((row) => row.map(neutralizedCell)),
    { quoted: true, quoted_empty: true, record_delimiter: '\r\n' },
  );
}
