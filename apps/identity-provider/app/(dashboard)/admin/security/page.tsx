import type { Metadata } from 'next';
import Link from 'next/link';
import { ShieldAlert } from 'lucide-react';
import { EventRows } from '@/components/admin/events';
import { Empty, ErrorNote, PageHeader, Pager, Panel, Table, focusRing, td, when } from '@/components/admin/ui';
import { adminPage, queryOf } from '@/lib/admin/page';
import { securityQuery } from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Security events · Admin' };

const KINDS: [string, string][] = [
  ['all', 'All'],
  ['replay', 'Code replays'],
  ['reuse', 'Refresh reuse'],
  ['suspicious', 'Stuffing, spraying and other patterns'],
  ['rate_limited', 'Rate-limit hits'],
  ['lockout', 'Lockouts'],
  ['client_auth', 'Client auth failures'],
];

export default async function SecurityPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { service } = await adminPage();
  const params = await queryOf(searchParams);
  const parsed = securityQuery.safeParse(params);
  const kind = parsed.success ? parsed.data.kind : 'all';
  const deadLetters = await service.deadLetters(20);
  return (
    <>
      <PageHeader
        icon={<ShieldAlert aria-hidden className="h-6 w-6 text-brand-600" />}
        title="Security events"
        description="What the provider noticed and did: code replays and refresh-token reuse (their grant revoked), credential stuffing and password spraying, rate limits, lockouts. Open an event for its evidence and related events."
      />
      <nav aria-label="Kinds of security event" className="mb-3 flex flex-wrap gap-1">
        {KINDS.map(([value, label]) => (
          <Link
            key={value}
            href={value === 'all' ? '/admin/security' : `/admin/security?kind=${value}`}
            aria-current={kind === value ? 'page' : undefined}
            className={`rounded-md px-2.5 py-1 text-sm ${kind === value ? 'bg-slate-800 text-white' : 'bg-white text-slate-700 ring-1 ring-slate-300 hover:bg-slate-50'} ${focusRing}`}
          >
            {label}
          </Link>
        ))}
      </nav>
      <Panel title="Events" testId="security-events">
        {!parsed.success ? (
          <ErrorNote>
            That filter or page link is not valid.{' '}
            <Link href="/admin/security" className="underline">
              Start over
            </Link>
            .
          </ErrorNote>
        ) : (
          await (async () => {
            const page = await service.securityEvents(parsed.data);
            if (!page.items.length) return <Empty>No security events of this kind.</Empty>;
            return (
              <>
                <Table caption="Security events" head={['Time', 'Event', 'User', 'Client', 'IP / user agent']} testId="security-table">
                  <EventRows entries={page.items} />
                </Table>
                <Pager next={page.next_cursor} base="/admin/security" params={params} />
              </>
            );
          })()
        )}
      </Panel>
      <div className="mt-4" id="dead-letters">
        <Panel
          title="Dead-lettered audit rows"
          description="Events the database refused for good, kept with their error (identity.audit_dead_letters)."
          testId="dead-letter-list"
        >
          {deadLetters.recent.length === 0 ? (
            <Empty>None.</Empty>
          ) : (
            <Table caption="Dead letters" head={['First failed', 'Action', 'Error', 'Failures']}>
              {deadLetters.recent.map((d) => (
                <tr key={d.id}>
                  <td className={td}>{when(d.firstFailedAt.toISOString())}</td>
                  <td className={td}>{d.action ?? '—'}</td>
                  <td className={`${td} text-xs`}>
                    {d.errorCode} {d.errorMessage}
                  </td>
                  <td className={td}>{d.failures}</td>
                </tr>
              ))}
            </Table>
          )}
        </Panel>
      </div>
    </>
  );
}
