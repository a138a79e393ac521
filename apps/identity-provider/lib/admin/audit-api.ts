import { z } from 'zod';
import type { AuditCursor, AuditEntry, AuditFilters, IdentityStore } from '@idp/database-identity';
import { toCsv } from '../security/csv';
import { encodeCursor, rowCursorParam } from '../http/cursor';
import { isPlainIp, rfc3339, safeText } from '../security/input';

export const MAX_PAGE_SIZE = 500;

/** The audit trail's query (GET /api/admin/audit and the audit page). */
export const auditQuery = z
  .object({
    start: rfc3339.optional(),
    end: rfc3339.optional(),
    user_id: z.uuid('must be a UUID').optional(),
    client_id: safeText(200).optional(),
    action: z
      .string()
      .regex(/^[a-z_.]+\*?$/, 'must be an action name, or a prefix ending in *')
      .optional(),
    ip: z.string().refine(isPlainIp, 'must be an IP address (without a zone id)').optional(),
    limit: z.coerce.number().int().min(1).max(MAX_PAGE_SIZE).default(100),
    cursor: rowCursorParam.transform((c) => (c ? ({ createdAt: new Date(c.at), id: c.id } satisfies AuditCursor) : null)),
    format: z.enum(['json', 'csv'], { message: 'must be json or csv' }).optional(),
  })
  .refine((q) => !(q.start && q.end && q.start >= q.end), { path: ['end'], message: 'must be after start' });

export type AuditQuery = z.infer<typeof auditQuery>;

export class BadQuery extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(`${parameter} ${message}`);
  }
}

/** Validates the audit page's query string; a bad value is a BadQuery that names the parameter. */
export function parseAuditQuery(search: URLSearchParams): AuditQuery {
  const result = auditQuery.safeParse(Object.fromEntries(search));
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new BadQuery(String(issue.path[0] ?? 'query'), issue.message);
  }
  return result.data;
}

const filtersOf = (q: AuditQuery): AuditFilters => ({ start: q.start, end: q.end, userId: q.user_id, clientId: q.client_id, action: q.action, ip: q.ip });

const entryJson = (e: AuditEntry) => ({
  id: e.id,
  event_id: e.eventId,
  created_at: e.createdAt.toISOString(),
  action: e.action,
  user_id: e.userId,
  client_id: e.clientId,
  grant_type: e.grantType,
  ip_address: e.ipAddress,
  user_agent: e.userAgent,
  request_id: e.requestId,
  details: e.details,
});

export async function auditPage(store: IdentityStore, q: AuditQuery) {
  const { entries, next } = await store.auditLog.search(filtersOf(q), q.cursor, q.limit);
  return { entries: entries.map(entryJson), next_cursor: next ? encodeCursor(next.createdAt, next.id) : null };
}

const CSV_COLUMNS = ['created_at', 'action', 'user_id', 'client_id', 'grant_type', 'ip_address', 'user_agent', 'request_id', 'event_id', 'details'] as const;

/** The whole filtered range, streamed page by page as CSV or a JSON array. */
export function auditExport(store: IdentityStore, q: AuditQuery, format: 'csv' | 'json'): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const rows = store.auditLog.scan(filtersOf(q));
  let first = true;
  return new ReadableStream({
    async start(controller) {
      controller.enqueue(encoder.encode(format === 'csv' ? toCsv([[...CSV_COLUMNS]]) : '['));
    },
    async pull(controller) {
      const { value, done } = await rows.next();
      if (done) {
        if (format === 'json') controller.enqueue(encoder.encode(']\n'));
        controller.close();
        return;
      }
      const row = entryJson(value);
      const line = format === 'csv' ? toCsv([CSV_COLUMNS.map((c) => row[c])]) : `${first ? '' : ','}\n${JSON.stringify(row)}`;
      first = false;
      controller.enqueue(encoder.encode(line));
    },
    async cancel() {
      await rows.return(undefined);
    },
  });
}
