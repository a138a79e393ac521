import { isIP } from 'node:net';
import { z } from 'zod';

/**
 * Shared checks for values that come from outside: every one is bounded and refused with a 400 naming its
 * parameter before it reaches SQL, where it would otherwise fail as a 500 (Postgres refuses NUL in text,
 * years outside its range, integers past int8, zone ids in inet).
 */

/** C0 controls but TAB, LF and CR, and DEL: no protocol value, filter or form field carries them. */
// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function hasControlChars(value: string): boolean {
  return CONTROL.test(value);
}

/** Printable text of at most `max` characters. */
export const safeText = (max: number) =>
  z
    .string()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((v) => !hasControlChars(v), 'must not contain control characters');

/** Years a timestamp may carry: Postgres accepts more, JavaScript's Date less; audit data lives here. */
export const MIN_YEAR = 1970;
export const MAX_YEAR = 9999;

export function inTimestampRange(date: Date): boolean {
  const year = date.getUTCFullYear();
  return !Number.isNaN(date.getTime()) && year >= MIN_YEAR && year <= MAX_YEAR;
}

/** An RFC 3339 date-time (`T`, `t` or a space between date and time), as a Date within MIN_YEAR..MAX_YEAR. */
export const rfc3339 = z
  .string()
  .max(40, 'must be an RFC 3339 date-time, e.g. 2026-11-22T10:00:00Z')
  .regex(/^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/, 'must be an RFC 3339 date-time, e.g. 2026-11-22T10:00:00Z')
  .transform((value, ctx) => {
    const date = new Date(value.replace(' ', 'T'));
    if (Number.isNaN(date.getTime())) {
      ctx.addIssue({ code: 'custom', message: 'is not a valid date-time' });
      return z.NEVER;
    }
    if (!inTimestampRange(date)) {
      ctx.addIssue({ code: 'custom', message: `must be between the years ${MIN_YEAR} and ${MAX_YEAR}` });
      return z.NEVER;
    }
    return date;
  });

/** An IPv4 or IPv6 address as Postgres' inet takes it: no zone id (`fe80::1%eth0`). */
export function isPlainIp(value: string): boolean {
  return value.length <= 45 && !value.includes('%') && isIP(value) !== 0;
}

/** A row id in a keyset cursor: a positive integer that fits both JavaScript and int8. */
export function isRowId(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}
