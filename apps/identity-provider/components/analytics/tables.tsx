import { CircleAlert, CircleCheck, Filter } from 'lucide-react';
import type { AudienceTokens, TokenActivityItem, TopClient, TopUser } from '@/lib/analytics/types';
import { focusRing, formatCount, formatTime } from './shared';

const th = 'px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-500';
const td = 'px-3 py-2 text-sm';
const linkButton = `inline-flex max-w-full items-center gap-1 rounded text-left font-medium text-brand-700 hover:underline ${focusRing}`;

export function TopClientsTable({ clients, names, onFilter }: { clients: TopClient[]; names: Record<string, string>; onFilter: (clientId: string) => void }) {
  if (!clients.length) return <p className="text-sm text-slate-500">No clients in this range.</p>;
  return (
    <div className="overflow-x-auto">
      <table className="w-full min-w-[420px]" data-testid="top-clients">
        <thead className="bg-slate-50">
          <tr>
            <th scope="col" className={th}>
              Client
            </th>
            <th scope="col" className={`${th} text-right`}>
              Events
            </th>
            <th scope="col" className={`${th} text-right`}>
              Issued
            </th>
            <th scope="col" className={`${th} text-right`}>
              Failed
            </th>
            <th scope="col" className={`${th} text-right`}>
              Users
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {clients.map((c) => (
            <tr key={c.client_id ?? '(none)'} data-testid="top-client-row">
              <td className={td}>
                {c.client_id === null ? (
                  <span className="text-slate-500">(no client)</span>
                ) : (
                  <button type="button" className={linkButton} onClick={() => onFilter(c.client_id!)} title={`Show only ${c.client_id}`}>
                    <span className="truncate">{names[c.client_id] ?? c.client_id}</span>
                    <Filter aria-hidden className="h-3 w-3 shrink-0" />
                  </button>
                )}
              </td>
              <td className={`${td} text-right tabular-nums`}>{formatCount(c.events)}</td>
              <td className={`${td} text-right tabular-nums`}>{formatCount(c.issued)}</td>
              <td className={`${td} text-right tabular-nums ${c.failed ? 'text-red-700' : ''}`}>{formatCount(c.failed)}</td>
              <td className={`${td} text-right tabular-nums`}>{formatCount(c.unique_users)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** How an audience is shown: the API's identifier(s), or the provider's default audience. */
export const DEFAULT_AUDIENCE_LABEL = 'default (provider)';
export const audienceLabel = (audience: string | null) => audience ?? DEFAULT_AUDIENCE_LABEL;

/** Tokens per API (audience); a row filters the dashboard to it (null: the default audience). */
export function AudienceTable({ audiences, onFilter }: { audiences: AudienceTokens[]; onFilter: (audience: string | null) => void }) {
  if (!audiences.length) return <p className="text-sm text-slate-500">No token events in this range.</p>;
  const total = audiences.reduce((n, a) => n + a.issued, 0);
  return (
    <div className="overflow-x-auto">
      <table className="w-full min-w-[520px]" data-testid="by-audience">
        <thead className="bg-slate-50">
          <tr>
            <th scope="col" className={th}>
              API (audience)
            </th>
            <th scope="col" className={`${th} text-right`}>
              Issued
            </th>
            <th scope="col" className={`${th} text-right`}>
              Share
            </th>
            <th scope="col" className={`${th} text-right`}>
              Refreshed
            </th>
            <th scope="col" className={`${th} text-right`}>
              Failed
            </th>
            <th scope="col" className={`${th} text-right`}>
              Events
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {audiences.map((a) => (
            <tr key={a.audience ?? '(default)'} data-testid="audience-row" data-audience={a.audience ?? ''}>
              <td className={`${td} max-w-0 w-full`}>
                <button type="button" className={linkButton} onClick={() => onFilter(a.audience)} title={`Show only ${audienceLabel(a.audience)}`}>
                  <span className={`truncate ${a.audience === null ? 'italic text-slate-600' : 'font-mono text-xs'}`}>{audienceLabel(a.audience)}</span>
                  <Filter aria-hidden className="h-3 w-3 shrink-0" />
                </button>
                <div aria-hidden className="mt-1 h-1.5 rounded bg-slate-100">
                  <div className="h-1.5 rounded bg-brand-600" style={{ width: `${total ? (100 * a.issued) / total : 0}%` }} />
                </div>
              </td>
              <td className={`${td} text-right tabular-nums`}>{formatCount(a.issued)}</td>
              <td className={`${td} text-right tabular-nums text-slate-600`}>{total ? `${((100 * a.issued) / total).toFixed(1)}%` : '—'}</td>
              <td className={`${td} text-right tabular-nums`}>{formatCount(a.refreshed)}</td>
              <td className={`${td} text-right tabular-nums ${a.failed ? 'text-red-700' : ''}`}>{formatCount(a.failed)}</td>
              <td className={`${td} text-right tabular-nums`}>{formatCount(a.events)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function TopUsersTable({ users, onFilter }: { users: TopUser[]; onFilter: (userId: string) => void }) {
  if (!users.length) return <p className="text-sm text-slate-500">No users were issued tokens in this range.</p>;
  return (
    <div className="overflow-x-auto">
      <table className="w-full min-w-[300px]" data-testid="top-users">
        <thead className="bg-slate-50">
          <tr>
            <th scope="col" className={th}>
              User
            </th>
            <th scope="col" className={`${th} text-right`}>
              Tokens issued
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {users.map((u) => (
            <tr key={u.user_id} data-testid="top-user-row">
              <td className={`${td} max-w-0 w-full`}>
                <button type="button" className={linkButton} onClick={() => onFilter(u.user_id)} title={`Show only ${u.user_id}`}>
                  <span className="truncate">{u.email ?? u.user_id}</span>
                  <Filter aria-hidden className="h-3 w-3 shrink-0" />
                </button>
              </td>
              <td className={`${td} text-right tabular-nums`}>{formatCount(u.issued)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function ActivityTable({
  entries,
  timeZone,
  names,
  emails,
}: {
  entries: TokenActivityItem[];
  timeZone: string;
  names: Record<string, string>;
  emails: Record<string, string>;
}) {
  if (!entries.length) return <p className="text-sm text-slate-500">No token activity in this range.</p>;
  return (
    <div className="overflow-x-auto">
      <table className="w-full min-w-[720px]" data-testid="activity-table">
        <thead className="bg-slate-50">
          <tr>
            <th scope="col" className={th}>
              Time ({timeZone})
            </th>
            <th scope="col" className={th}>
              Action
            </th>
            <th scope="col" className={th}>
              Client
            </th>
            <th scope="col" className={th}>
              User
            </th>
            <th scope="col" className={th}>
              API
            </th>
            <th scope="col" className={th}>
              IP address
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {entries.map((e) => (
            <tr
              key={e.id}
              data-testid="activity-row"
              data-failed={e.failed ? 'true' : 'false'}
              data-action={e.action}
              data-id={e.id}
              className={e.failed ? 'bg-red-50 text-red-800' : ''}
            >
              <td className={`${td} whitespace-nowrap tabular-nums`}>
                <time dateTime={e.created_at}>{formatTime(e.created_at, timeZone)}</time>
              </td>
              <td className={`${td} whitespace-nowrap`}>
                <span
                  className={`inline-flex items-center gap-1 rounded px-1.5 py-0.5 text-xs font-medium ${e.failed ? 'bg-red-100 text-red-800' : 'bg-emerald-50 text-emerald-800'}`}
                >
                  {e.failed ? <CircleAlert aria-hidden className="h-3.5 w-3.5" /> : <CircleCheck aria-hidden className="h-3.5 w-3.5" />}
                  {e.failed && <span className="sr-only">Failed: </span>}
                  <span className="font-mono">{e.action}</span>
                </span>
                {e.reason && (
                  <span className="ml-1.5 font-mono text-xs" data-testid="activity-reason">
                    {e.reason}
                  </span>
                )}
              </td>
              <td className={`${td} max-w-[12rem] truncate`} title={e.client_id ?? undefined}>
                {e.client_id === null ? '—' : (names[e.client_id] ?? e.client_id)}
              </td>
              <td className={`${td} max-w-[14rem] truncate`} title={e.user_id ?? undefined}>
                {e.user_id === null ? '—' : (emails[e.user_id] ?? <span className="font-mono text-xs">{e.user_id}</span>)}
              </td>
              <td className={`${td} max-w-[12rem] truncate ${e.audience === null ? 'text-slate-500' : 'font-mono text-xs'}`} title={audienceLabel(e.audience)}>
                {e.audience === null ? (e.action.startsWith('token.issued.') ? DEFAULT_AUDIENCE_LABEL : '—') : e.audience}
              </td>
              <td className={`${td} whitespace-nowrap font-mono text-xs`}>{e.ip_address ?? '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
