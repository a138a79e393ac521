import type { Queryable } from '../driver';

export interface AuditFilters {
  start?: Date;
  end?: Date;
  userId?: string;
  clientId?: string;
  /** Exact action, or a prefix when it ends with `*` (e.g. `token.*`). */
  action?: string;
  /** Any of these actions (each exact, or a prefix ending with `*`): e.g. a user's security activity. */
  actions?: string[];
  ip?: string;
}

export interface AuditEntry {
  id: number;
  eventId: string;
  createdAt: Date;
  action: string;
  userId: string | null;
  clientId: string | null;
  grantType: string | null;
  ipAddress: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

/** Position after the last row of a page: rows are ordered newest first by (created_at, id). */
export interface AuditCursor {
  createdAt: Date;
  id: number;
}

export type AuditRow = {
  id: number;
  event_id: string;
  created_at: Date;
  action: string;
  user_id: string | null;
  client_id: string | null;
  grant_type: string | null;
  ip_address: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
};

/** The columns of an AuditRow, ip as text. */
export const AUDIT_COLUMNS = `id, event_id, created_at, action, user_id, client_id, grant_type, host(ip_address) as ip_address, user_agent, request_id, details`;

export const toAuditEntry = (r: AuditRow): AuditEntry => ({
  id: Number(r.id),
  eventId: r.event_id,
  createdAt: new Date(r.created_at),
  action: r.action,
  userId: r.user_id,
  clientId: r.client_id,
  grantType: r.grant_type,
  ipAddress: r.ip_address,
  userAgent: r.user_agent,
  requestId: r.request_id,
  details: r.details,
});

/** A LIKE pattern matching every string that starts with `prefix` (its %, _ and backslashes escaped). */
const likePrefix = (prefix: string) => prefix.replace(/[\\%_]/g, (c) => `\\${c}`) + '%';

function where(filters: AuditFilters, cursor: AuditCursor | null): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  const add = (clause: string, value: unknown) => {
    params.push(value);
    clauses.push(clause.replace('?', `$${params.length}`));
  };
  if (filters.start) add('created_at >= ?', filters.start.toISOString());
  if (filters.end) add('created_at < ?', filters.end.toISOString());
  if (filters.userId) add('user_id = ?::uuid', filters.userId);
  if (filters.clientId) add('client_id = ?', filters.clientId);
  if (filters.ip) add('ip_address = ?::inet', filters.ip);
  if (filters.action?.endsWith('*')) add(`action like ? escape '\\'`, likePrefix(filters.action.slice(0, -1)));
  else if (filters.action) add('action = ?', filters.action);
  if (filters.actions) {
    const exact = filters.actions.filter((a) => !a.endsWith('*'));
    const patterns = filters.actions.filter((a) => a.endsWith('*')).map((a) => likePrefix(a.slice(0, -1)));
    params.push(exact, patterns);
    // LIKE's default escape character is the backslash, which likePrefix uses
    clauses.push(`(action = any($${params.length - 1}::text[]) or action like any($${params.length}::text[]))`);
  }
  if (cursor) {
    params.push(cursor.createdAt.toISOString(), cursor.id);
    clauses.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length})`);
  }
  return { sql: clauses.length ? `where ${clauses.join(' and ')}` : '', params };
}

export function auditQueries(db: Queryable) {
  return {
    /** One page, newest first, with the cursor for the next page (null at the end). Served by (created_at, id). */
    async search(filters: AuditFilters, cursor: AuditCursor | null, limit: number): Promise<{ entries: AuditEntry[]; next: AuditCursor | null }> {
      const { sql, params } = where(filters, cursor);
      const rows = await db.query<AuditRow>(
        `select ${AUDIT_COLUMNS}
           from identity.audit_logs ${sql} order by created_at desc, id desc limit ${Math.max(1, Math.floor(limit)) + 1}`,
        params,
      );
      const entries = rows.slice(0, limit).map(toAuditEntry);
      const last = entries[entries.length - 1];
      return { entries, next: rows.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null };
    },

    /** Every matching row, page by page (keyset), for streamed exports: memory stays at one page. */
    async *scan(filters: AuditFilters, pageSize = 1000): AsyncGenerator<AuditEntry> {
      let cursor: AuditCursor | null = null;
      do {
        const page: { entries: AuditEntry[]; next: AuditCursor | null } = await this.search(filters, cursor, pageSize);
        yield* page.entries;
        cursor = page.next;
      } while (cursor);
    },
  };
}

export type AuditQueries = ReturnType<typeof auditQueries>;
