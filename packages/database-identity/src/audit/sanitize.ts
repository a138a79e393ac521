/**
 * Bounds what an audit event carries before it is queued. Much of an event comes from whoever sent the
 * request (the client_id they claimed, their user agent, request id, reasons derived from their input), so
 * every string is cut to a UTF-8 byte limit and cleaned of what Postgres text and jsonb refuse: NUL
 * (\u0000) and lone UTF-16 surrogates (JSON.stringify writes them as \udXXX escapes, which jsonb rejects).
 * The limits keep every index over these columns below the btree row limit (~2,704 bytes), here and in the
 * rollup tables the audit_logs trigger feeds (client_id). Nothing is cut silently: the event's details list
 * the fields that were shortened (`truncated`) or cleaned (`sanitized`).
 */

/** UTF-8 byte limits per column. Identifiers: far below the btree limit, far above any real value. */
export const AUDIT_FIELD_LIMITS = {
  action: 128,
  userId: 64,
  clientId: 256,
  grantType: 256,
  ip: 64,
  userAgent: 512,
  requestId: 256,
  resourceType: 256,
  resourceId: 256,
  /** A token's audience: one resource identifier (absolute URI) or several joined by spaces; in the rollup keys with client_id. */
  audience: 1024,
} as const;

/** Limits inside `details` (and `scopes`): strings, keys, nesting, entries per object/array, and overall. */
export const AUDIT_DETAILS_LIMITS = {
  stringBytes: 1024,
  keyBytes: 128,
  depth: 6,
  entries: 100,
  /** Values (of any kind) in one event's details; beyond it the rest is left out and marked. */
  values: 1000,
  /** Paths listed in `truncated` / `sanitized`; beyond it the list ends with `...`. */
  listedPaths: 32,
} as const;

type Marks = { truncated: string[]; sanitized: string[]; budget: number };

const mark = (list: string[], path: string) => {
  if (list.length < AUDIT_DETAILS_LIMITS.listedPaths) list.push(path);
  else if (list[list.length - 1] !== '...') list.push('...');
};

/** Cuts a string to at most `maxBytes` of UTF-8 without splitting a character. */
export function truncateUtf8(value: string, maxBytes: number): string {
  // a UTF-16 code unit is at most 3 bytes of UTF-8: short strings need no measuring
  if (value.length * 3 <= maxBytes || Buffer.byteLength(value, 'utf8') <= maxBytes) return value;
  const bytes = Buffer.from(value, 'utf8');
  let end = maxBytes;
  // back up to the first byte of a character (continuation bytes are 10xxxxxx)
  while (end > 0 && (bytes[end] & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end).toString('utf8');
}

/** ES2024 string methods (Node 20 has them; the project's TypeScript lib is ES2023). */
type WellFormedString = string & { isWellFormed(): boolean; toWellFormed(): string };

/** Whether a string needs no change: the common case, checked without allocating. */
function isClean(value: string, maxBytes: number): boolean {
  return (value.length * 3 <= maxBytes || Buffer.byteLength(value, 'utf8') <= maxBytes) && !value.includes('\0') && (value as WellFormedString).isWellFormed();
}

function cleanString(value: string, maxBytes: number, path: string, marks: Marks): string {
  let out = value;
  if (out.includes('\0') || !(out as WellFormedString).isWellFormed()) {
    out = (out.replaceAll('\0', '') as WellFormedString).toWellFormed();
    mark(marks.sanitized, path);
  }
  const cut = truncateUtf8(out, maxBytes);
  if (cut !== out) mark(marks.truncated, path);
  return cut;
}

/**
 * A JSON-like value with every string, key, nesting and size bounded (JSON.stringify's semantics otherwise).
 * Copy on write: a value that needs no change is returned as is, so the common event costs no allocation.
 */
function cleanValue(value: unknown, path: string, depth: number, marks: Marks, viaToJSON = false): unknown {
  if (value === null || value === undefined) return value;
  if (--marks.budget < 0) {
    mark(marks.truncated, path);
    return undefined;
  }
  if (typeof value === 'string') return cleanString(value, AUDIT_DETAILS_LIMITS.stringBytes, path, marks);
  // JSON.stringify throws on a bigint: an event must never fail to serialise
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object') return value; // numbers, booleans; functions and symbols JSON leaves out
  const toJSON = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof toJSON === 'function' && !viaToJSON) {
    // as JSON.stringify does (dates): once, then the result is what gets bounded
    const json = toJSON.call(value);
    const cleaned = cleanValue(json, path, depth, marks, true);
    return cleaned === json ? value : cleaned;
  }
  if (depth >= AUDIT_DETAILS_LIMITS.depth) {
    mark(marks.truncated, path);
    return undefined;
  }
  if (Array.isArray(value)) {
    let out: unknown[] | null = null;
    if (value.length > AUDIT_DETAILS_LIMITS.entries) {
      mark(marks.truncated, path);
      out = value.slice(0, AUDIT_DETAILS_LIMITS.entries);
    }
    const length = Math.min(value.length, AUDIT_DETAILS_LIMITS.entries);
    for (let i = 0; i < length; i++) {
      const item = value[i];
      const cleaned =
        typeof item === 'string' && isClean(item, AUDIT_DETAILS_LIMITS.stringBytes) && --marks.budget >= 0
          ? item
          : cleanValue(item, `${path}[${i}]`, depth + 1, marks);
      if (cleaned !== value[i]) (out ??= value.slice(0, length))[i] = cleaned ?? null;
    }
    return out ?? value;
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record);
  let out: Record<string, unknown> | null = null;
  if (keys.length > AUDIT_DETAILS_LIMITS.entries) {
    mark(marks.truncated, path);
    out = {};
  }
  const kept = keys.slice(0, AUDIT_DETAILS_LIMITS.entries);
  for (let i = 0; i < kept.length; i++) {
    const key = kept[i];
    const item = record[key];
    // clean keys and strings (nearly all) skip building their path, which only a mark needs
    const cleanKey = isClean(key, AUDIT_DETAILS_LIMITS.keyBytes)
      ? key
      : cleanString(key, AUDIT_DETAILS_LIMITS.keyBytes, `${path}.${truncateUtf8(key.replaceAll('\0', ''), 64)}`, marks);
    const cleaned =
      typeof item === 'string' && isClean(item, AUDIT_DETAILS_LIMITS.stringBytes) && --marks.budget >= 0
        ? item
        : cleanValue(item, `${path}.${cleanKey}`, depth + 1, marks);
    if (!out && (cleanKey !== key || cleaned !== record[key])) {
      // first change: copy what came before it
      out = {};
      for (const earlier of kept.slice(0, i)) out[earlier] = record[earlier];
    }
    if (out && cleaned !== undefined) out[cleanKey] = cleaned;
  }
  return out ?? value;
}

/** The fields of an audit event this module bounds; the writer's AuditRecord extends it. */
export interface SanitizableAuditEvent {
  action: string;
  userId?: string | null;
  clientId?: string | null;
  grantType?: string | null;
  scopes?: string[] | null;
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  resourceType?: string | null;
  resourceId?: string | null;
  /**
   * Issued-token events: the token's audience, i.e. the resource server's identifier (RFC 8707, an absolute
   * URI), or for a token for several the sorted identifiers joined by one space. Absent, null or empty: the
   * provider's default audience.
   */
  audience?: string | null;
  details?: Record<string, unknown>;
}

const COLUMN_NAMES: Record<keyof typeof AUDIT_FIELD_LIMITS, string> = {
  action: 'action',
  userId: 'user_id',
  clientId: 'client_id',
  grantType: 'grant_type',
  ip: 'ip_address',
  userAgent: 'user_agent',
  requestId: 'request_id',
  resourceType: 'resource_type',
  resourceId: 'resource_id',
  audience: 'audience',
};

const FIELDS = Object.keys(AUDIT_FIELD_LIMITS) as (keyof typeof AUDIT_FIELD_LIMITS)[];

/**
 * The event with every attacker-reachable string bounded and cleaned. Returns the same object when nothing
 * needed changing (the common case costs a length check per string). Idempotent: a sanitised event (e.g.
 * read back from the spool) comes out unchanged, with its marks.
 */
export function sanitizeAuditEvent<T extends SanitizableAuditEvent>(event: T): T {
  const marks: Marks = { truncated: [], sanitized: [], budget: AUDIT_DETAILS_LIMITS.values };
  let changed: Partial<SanitizableAuditEvent> | null = null;
  for (const field of FIELDS) {
    const value = event[field];
    if (value === null || value === undefined) continue;
    const text = typeof value === 'string' ? value : String(value);
    const cleaned = cleanString(text, AUDIT_FIELD_LIMITS[field], COLUMN_NAMES[field], marks);
    if (cleaned !== value) (changed ??= {})[field] = cleaned;
  }
  const scopes = event.scopes ? (cleanValue(event.scopes, 'scopes', 0, marks) as string[]) : event.scopes;
  const details = event.details ? (cleanValue(event.details, 'details', 0, marks) as Record<string, unknown>) : event.details;
  if (!changed && scopes === event.scopes && details === event.details && !marks.truncated.length && !marks.sanitized.length) return event;
  const markedDetails: Record<string, unknown> = { ...details };
  // marks of an earlier pass (a replayed event) are kept; this pass adds any new ones
  if (marks.truncated.length) markedDetails.truncated = union(markedDetails.truncated, marks.truncated);
  if (marks.sanitized.length) markedDetails.sanitized = union(markedDetails.sanitized, marks.sanitized);
  return { ...event, ...changed, scopes, details: markedDetails };
}

function union(earlier: unknown, now: string[]): string[] {
  return [...new Set([...(Array.isArray(earlier) ? earlier.filter((p): p is string => typeof p === 'string') : []), ...now])];
}
