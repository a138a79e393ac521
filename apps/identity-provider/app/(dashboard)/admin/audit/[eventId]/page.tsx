import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { ScrollText } from 'lucide-react';
import { EventRows, eventSummary } from '@/components/admin/events';
import { Empty, PageHeader, Panel, Table, linkClass, when } from '@/components/admin/ui';
import { adminPage } from '@/lib/admin/page';
import { eventIdParam } from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Audit event · Admin' };

export default async function AuditEventPage({ params }: { params: Promise<{ eventId: string }> }) {
  const { service } = await adminPage();
  const id = eventIdParam.safeParse(await params);
  if (!id.success) notFound();
  const detail = await service.auditEvent(id.data.eventId).catch(() => null);
  if (!detail) notFound();
  const { event: e, related } = detail;
  const d = e.details ?? {};
  const evidence = (d.evidence ?? null) as Record<string, unknown> | null;
  const familyId = (typeof d.family_id === 'string' ? d.family_id : typeof evidence?.family_id === 'string' ? evidence.family_id : null) as string | null;
  return (
    <>
      <PageHeader
        icon={<ScrollText aria-hidden className="h-6 w-6 text-brand-600" />}
        title={eventSummary(e)}
        crumbs={[{ href: '/admin/audit', label: 'Audit trail' }]}
      />
      <div className="grid gap-4 lg:grid-cols-2">
        <Panel title="Event" testId="event-detail">
          <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
            <dt className="text-slate-600">Action</dt>
            <dd data-testid="event-action">{e.action}</dd>
            <dt className="text-slate-600">Time</dt>
            <dd>{when(e.created_at)}</dd>
            <dt className="text-slate-600">User</dt>
            <dd>
              {e.user_id ? (
                <Link className={linkClass} href={`/admin/users/${e.user_id}`}>
                  {e.user_id}
                </Link>
              ) : (
                '—'
              )}
            </dd>
            <dt className="text-slate-600">Client</dt>
            <dd>
              {e.client_id ? (
                <Link className={linkClass} href={`/admin/clients/${encodeURIComponent(e.client_id)}`}>
                  {e.client_id}
                </Link>
              ) : (
                '—'
              )}
            </dd>
            <dt className="text-slate-600">From</dt>
            <dd>
              {e.ip_address ? (
                <Link className={linkClass} href={`/admin/audit?ip=${encodeURIComponent(e.ip_address)}`}>
                  {e.ip_address}
                </Link>
              ) : (
                '—'
              )}
            </dd>
            <dt className="text-slate-600">User agent</dt>
            <dd className="break-all">{e.user_agent ?? '—'}</dd>
            <dt className="text-slate-600">Request id</dt>
            <dd className="break-all">{e.request_id ?? '—'}</dd>
            {familyId && (
              <>
                <dt className="text-slate-600">Token family</dt>
                <dd className="break-all" data-testid="event-family">
                  {familyId}
                </dd>
              </>
            )}
          </dl>
        </Panel>
        <Panel title="Details and evidence">
          <pre className="max-h-96 overflow-auto rounded-md bg-slate-50 p-3 text-xs" data-testid="event-details" tabIndex={0}>
            {JSON.stringify(d, null, 2)}
          </pre>
        </Panel>
      </div>
      <div className="mt-4">
        <Panel title="Related events" description="The same request, token family or session, within a day." testId="related-events">
          {related.length === 0 ? (
            <Empty>No related events.</Empty>
          ) : (
            <Table caption="Related events" head={['Time', 'Event', 'User', 'Client', 'IP / user agent']}>
              <EventRows entries={related} />
            </Table>
          )}
        </Panel>
      </div>
    </>
  );
}
