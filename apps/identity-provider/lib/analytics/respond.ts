import type { TokenActivityPage } from '@idp/database-identity';
import { encodeCursor } from '../http/cursor';
import type { TokenActivityResponse } from './types';

export function activityJson(page: TokenActivityPage): TokenActivityResponse {
  return {
    entries: page.entries.map((e) => ({
      id: e.id,
      created_at: e.createdAt,
      action: e.action,
      failed: e.failed,
      reason: e.reason,
      client_id: e.clientId,
      user_id: e.userId,
      grant_type: e.grantType,
      audience: e.audience,
      ip_address: e.ip,
      user_agent: e.userAgent,
      request_id: e.requestId,
    })),
    next_cursor: page.next ? encodeCursor(page.next.createdAt, page.next.id) : null,
  };
}

/** A time zone the runtime knows but the database does not: Postgres says "time zone ... not recognized". */
export function isUnknownZoneError(error: unknown): boolean {
  const e = error as { code?: string; message?: string };
  return e?.code === '22023' && /time zone/i.test(e.message ?? '');
}
