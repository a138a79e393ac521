import type { Metadata } from 'next';
import Link from 'next/link';
import { Activity } from 'lucide-react';
import { ActionButton } from '@/components/admin/actions';
import { Empty, ErrorNote, PageHeader, Pager, Panel, SearchForm, Table, linkClass, td, when } from '@/components/admin/ui';
import { adminPage, queryOf } from '@/lib/admin/page';
import { pageQuery } from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Sessions · Admin' };

export default async function SessionsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { service } = await adminPage();
  const params = await queryOf(searchParams);
  const parsed = pageQuery.safeParse({ ...params, q: params.q || undefined });
  return (
    <>
      <PageHeader
        icon={<Activity aria-hidden className="h-6 w-6 text-brand-600" />}
        title="Sessions"
        description="Active provider sessions (browsers signed in here), newest first. Ending one makes that browser sign in again; prompt=none then answers login_required."
      />
      <Panel title="Active sessions">
        <SearchForm action="/admin/sessions" q={params.q} label="Search by email" />
        {!parsed.success ? (
          <ErrorNote>
            That search or page link is not valid.{' '}
            <Link href="/admin/sessions" className="underline">
              Start over
            </Link>
            .
          </ErrorNote>
        ) : (
          await (async () => {
            const page = await service.listSessions(parsed.data);
            if (!page.items.length) return <Empty>No active sessions.</Empty>;
            return (
              <>
                <Table caption="Active sessions" head={['User', 'Device', 'IP', 'Signed in', 'Last seen', 'Expires', '']} testId="sessions-table">
                  {page.items.map((s) => (
                    <tr key={s.sid} data-testid="session-row">
                      <td className={td}>
                        <Link className={linkClass} href={`/admin/users/${s.user_id}`}>
                          {s.email}
                        </Link>
                      </td>
                      <td className={`${td} text-xs`}>{s.device ?? 'Unknown browser'}</td>
                      <td className={`${td} text-xs`}>{s.ip_address ?? '—'}</td>
                      <td className={`${td} text-xs`}>
                        {when(s.auth_time)}
                        <div className="text-slate-600">{s.amr.join(', ')}</div>
                      </td>
                      <td className={`${td} text-xs`}>{when(s.last_seen_at)}</td>
                      <td className={`${td} text-xs`}>{when(s.expires_at)}</td>
                      <td className={td}>
                        <ActionButton
                          path={`/api/admin/sessions/${s.sid}/end`}
                          label="End session"
                          danger
                          testId="session-end"
                          confirm={`Ends this session of ${s.email}: that browser must sign in again.`}
                        />
                      </td>
                    </tr>
                  ))}
                </Table>
                <Pager next={page.next_cursor} base="/admin/sessions" params={params} />
              </>
            );
          })()
        )}
      </Panel>
    </>
  );
}
