import Link from 'next/link';
import { linkClass, td, when } from './ui';

type Entry = {
  event_id: string;
  created_at: string;
  action: string;
  user_id: string | null;
  client_id: string | null;
  ip_address: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: Record<string, unknown>;
};

/** One line saying what an audit event is about, from its action and details (ids and counts only). */
export function eventSummary(e: Pick<Entry, 'action' | 'details'>): string {
  const d = e.details ?? {};
  switch (e.action) {
    case 'security.suspicious':
      return `Suspicious: ${String(d.pattern ?? 'pattern').replace(/_/g, ' ')}`;
    case 'security.rate_limited':
      return `Rate limited: ${String(d.endpoint ?? '')}${d.scope ? ` (${String(d.scope)})` : ''}`;
    case 'token.code_replayed':
      return 'Authorization code replayed: its grant was revoked';
    case 'token.refresh_reused':
      return 'Refresh token reused: its family was revoked';
    case 'auth.account_locked':
      return `Account throttled (${String(d.scope ?? 'lock')})`;
    case 'auth.login_failed':
      return `Sign-in failed: ${String(d.reason ?? '')}`;
    case 'auth.login_succeeded':
      return 'Signed in';
    case 'client.auth_failed':
      return 'Client authentication failed';
    default:
      return e.action;
  }
}

export function EventRows({ entries, showUser = true }: { entries: Entry[]; showUser?: boolean }) {
  return (
    <>
      {entries.map((e) => (
        <tr key={e.event_id} data-testid="event-row">
          <td className={`${td} whitespace-nowrap`}>{when(e.created_at)}</td>
          <td className={td}>
            <Link href={`/admin/audit/${e.event_id}`} className={linkClass}>
              {e.action}
            </Link>
            <div className="text-xs text-slate-600">{eventSummary(e) !== e.action ? eventSummary(e) : ''}</div>
          </td>
          {showUser && (
            <td className={td}>
              {e.user_id ? (
                <Link className={linkClass} href={`/admin/users/${e.user_id}`}>
                  {e.user_id.slice(0, 8)}
                </Link>
              ) : (
                '—'
              )}
            </td>
          )}
          <td className={td}>
            {e.client_id ? (
              <Link className={linkClass} href={`/admin/clients/${encodeURIComponent(e.client_id)}`}>
                {e.client_id}
              </Link>
            ) : (
              '—'
            )}
          </td>
          <td className={td}>
            {e.ip_address ?? '—'}
            <div className="max-w-[16rem] truncate text-xs text-slate-600" title={e.user_agent ?? ''}>
              {e.user_agent ?? ''}
            </div>
          </td>
        </tr>
      ))}
    </>
  );
}
