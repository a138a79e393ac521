import type { Metadata } from 'next';
import Link from 'next/link';
import { BarChart3, CircleAlert, CircleCheck, Gauge } from 'lucide-react';
import { Badge, Empty, Panel, PageHeader, Table, linkClass, td, when } from '@/components/admin/ui';
import { adminPage } from '@/lib/admin/page';
import { eventSummary } from '@/components/admin/events';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Admin console · Identity provider' };

export default async function AdminOverview() {
  const { service } = await adminPage();
  const o = await service.overview();
  const { database, audit_writer: writer, keys } = o.health;
  const Ok = ({ ok }: { ok: boolean }) =>
    ok ? <CircleCheck aria-label="healthy" className="h-4 w-4 text-green-700" /> : <CircleAlert aria-label="problem" className="h-4 w-4 text-red-700" />;
  const counts: [string, number, string][] = [
    ['Users', o.counts.users, '/admin/users'],
    ['Administrators', o.counts.admins, '/admin/users?q='],
    ['Locked users', o.counts.locked_users, '/admin/users'],
    ['Clients', o.counts.clients, '/admin/clients'],
    ['Disabled clients', o.counts.disabled_clients, '/admin/clients'],
    ['Active sessions', o.counts.active_sessions, '/admin/sessions'],
    ['Live grants', o.counts.live_families, '/admin/clients'],
  ];
  return (
    <>
      <PageHeader
        icon={<Gauge aria-hidden className="h-6 w-6 text-brand-600" />}
        title="Admin console"
        actions={
          <Link href="/analytics/tokens" className={`${linkClass} inline-flex items-center gap-1 text-sm`}>
            <BarChart3 aria-hidden className="h-4 w-4" />
            Token analytics
          </Link>
        }
      />
      <div className="grid gap-4 lg:grid-cols-3">
        <Panel title="Database" testId="health-database">
          <p className="flex items-center gap-2 text-sm">
            <Ok ok={database.ok} />
            {database.ok ? `Answering in ${database.latency_ms} ms` : 'Not answering'} <Badge>{database.kind}</Badge>
          </p>
        </Panel>
        <Panel title="Audit writer" testId="health-audit">
          <dl className="grid grid-cols-2 gap-x-3 gap-y-1 text-sm">
            <dt className="text-slate-600">Queued</dt>
            <dd className="tabular-nums">{writer.queued}</dd>
            <dt className="text-slate-600">Flush failures</dt>
            <dd className="tabular-nums">{writer.flush_failures}</dd>
            <dt className="text-slate-600">Spooled events</dt>
            <dd className="tabular-nums">{writer.spooled_events}</dd>
            <dt className="text-slate-600">Dead letters</dt>
            <dd className="tabular-nums" data-testid="dead-letters">
              {writer.dead_letters_stored}
              {writer.dead_letters_stored > 0 && (
                <>
                  {' '}
                  ·{' '}
                  <Link className={linkClass} href="/admin/security#dead-letters">
                    see them
                  </Link>
                </>
              )}
            </dd>
          </dl>
        </Panel>
        <Panel title="Key schedule" testId="health-keys">
          {keys.length === 0 ? (
            <p className="flex items-center gap-2 text-sm text-red-800">
              <CircleAlert aria-hidden className="h-4 w-4" />
              No published key
            </p>
          ) : (
            <ul className="space-y-1 text-sm">
              {keys.map((k) => (
                <li key={k.kid} className="flex flex-wrap items-center gap-2">
                  <Badge tone={k.state === 'active' ? 'green' : 'amber'}>{k.state}</Badge>
                  {k.alg}
                  <span className="truncate text-slate-600">{k.retire_after ? `published until ${when(k.retire_after)}` : ''}</span>
                </li>
              ))}
            </ul>
          )}
          <Link href="/admin/keys" className={`${linkClass} mt-2 inline-block text-sm`}>
            Manage keys
          </Link>
        </Panel>
      </div>
      <div className="mt-4">
        <Panel title="Counts">
          <dl className="grid grid-cols-2 gap-3 sm:grid-cols-4 lg:grid-cols-7">
            {counts.map(([label, n, href]) => (
              <div key={label} className="rounded-lg bg-slate-50 p-3">
                <dt className="text-xs text-slate-600">{label}</dt>
                <dd className="text-xl font-semibold tabular-nums">
                  <Link href={href} className={linkClass}>
                    {n}
                  </Link>
                </dd>
              </div>
            ))}
          </dl>
        </Panel>
      </div>
      <div className="mt-4">
        <Panel
          title="Latest security events"
          actions={
            <Link href="/admin/security" className={`${linkClass} text-sm`}>
              All security events
            </Link>
          }
        >
          {o.security_events.length === 0 ? (
            <Empty>No security events recorded.</Empty>
          ) : (
            <Table caption="Latest security events" head={['Time', 'Event', 'Client', 'IP']} testId="overview-security">
              {o.security_events.map((e) => (
                <tr key={e.event_id}>
                  <td className={td}>{when(e.created_at)}</td>
                  <td className={td}>
                    <Link href={`/admin/audit/${e.event_id}`} className={linkClass}>
                      {eventSummary(e)}
                    </Link>
                  </td>
                  <td className={td}>{e.client_id ?? '—'}</td>
                  <td className={td}>{e.ip_address ?? '—'}</td>
                </tr>
              ))}
            </Table>
          )}
        </Panel>
      </div>
    </>
  );
}
