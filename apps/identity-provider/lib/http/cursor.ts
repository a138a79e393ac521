import { z } from 'zod';
import { hasControlChars, inTimestampRange, isRowId } from '../security/input';

/**
 * The one keyset cursor of every paged API (admin, analytics, account activity): base64url of the JSON
 * array [timestamp, key], the position after the last row of a page (rows are newest first). The timestamp
 * is RFC 3339 in UTC with up to six fractional digits, as precise as the rows it orders (token events keep
 * Postgres' microseconds); the key breaks ties: a row id (audit and token events) or a text key (clients,
 * users, sessions, token families). Clients pass `next_cursor` back as `cursor` and never build one.
 */
export interface Cursor {
  at: string;
  key: string | number;
}

const MAX_CURSOR_CHARACTERS = 400;
const MAX_TEXT_KEY = 200;
const UTC_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const INVALID = 'is not a cursor returned by this API';

export function encodeCursor(at: Date | string, key: string | number): string {
  return Buffer.from(JSON.stringify([typeof at === 'string' ? at : at.toISOString(), key])).toString('base64url');
}

/** The cursor, or null for anything encodeCursor did not make (or made for a time or key out of range). */
export function decodeCursor(value: string): Cursor | null {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    if (!Array.isArray(parsed) || parsed.length !== 2) return null;
    const [at, key] = parsed as [unknown, unknown];
    if (typeof at !== 'string' || !UTC_TIMESTAMP.test(at) || !inTimestampRange(new Date(at))) return null;
    const textKey = typeof key === 'string' && key.length > 0 && key.length <= MAX_TEXT_KEY && !hasControlChars(key);
    return textKey || isRowId(key) ? { at, key: key as string | number } : null;
  } catch {
    return null;
  }
}

const cursorText = z.string().max(MAX_CURSOR_CHARACTERS, INVALID).optional();

/** The `cursor` query parameter of a list: absent is the first page (null), anything else must decode. */
export const cursorParam = cursorText.transform((value, ctx): Cursor | null => {
  if (!value) return null;
  const cursor = decodeCursor(value);
  if (cursor) return cursor;
  ctx.addIssue({ code: 'custom', message: INVALID });
  return z.NEVER;
});

/** The `cursor` of a list of events ordered by (time, row id). */
export const rowCursorParam = cursorText.transform((value, ctx): { at: string; id: number } | null => {
  if (!value) return null;
  const cursor = decodeCursor(value);
  if (cursor && typeof cursor.key === 'number') return { at: cursor.at, id: cursor.key };
  ctx.addIssue({ code: 'custom', message: INVALID });
  return z.NEVER;
});
