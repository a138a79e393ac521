import type { Metadata } from 'next';
import Link from 'next/link';
import { Download, ScrollText } from 'lucide-react';
import { EventRows } from '@/components/admin/events';
import { Empty, ErrorNote, PageHeader, Pager, Panel, Table, buttonClass, inputClass, labelClass, primaryClass } from '@/components/admin/ui';
import { auditPage, BadQuery, parseAuditQuery } from '@/lib/admin/audit-api';
import { adminPage, queryOf } from '@/lib/admin/page';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Audit trail · Admin' };

const FILTERS = ['start', 'end', 'action', 'client_id', 'user_id', 'ip'] as const;
/** A datetime-local value (no seconds, no zone) is read as UTC. */
const asRfc3339 = (v: string | undefined) => (v && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(v) ? `${v}:00Z` : v);
const asLocal = (v: string | undefined) => (v && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(v) ? v.slice(0, 16) : '');

export default async function AuditPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { container } = await adminPage();
  const params = await queryOf(searchParams);
  const search = new URLSearchParams();
  for (const name of [...FILTERS, 'cursor'] as const) {
    const value = name === 'start' || name === 'end' ? asRfc3339(params[name]) : params[name];
    if (value) search.set(name, value);
  }
  search.set('limit', '50');
  let problem: string | null = null;
  let page: Awaited<ReturnType<typeof auditPage>> | null = null;
  try {
    page = await auditPage(container.store, parseAuditQuery(search));
  } catch (error) {
    if (!(error instanceof BadQuery)) throw error;
    problem = error.message;
  }
  const exportQuery = new URLSearchParams([...search].filter(([k]) => k !== 'cursor' && k !== 'limit'));
  return (
    <>
      <PageHeader
        icon={<ScrollText aria-hidden className="h-6 w-6 text-brand-600" />}
        title="Audit trail"
        description="Every token operation, sign-in and admin action. Filters live in the URL; export takes the whole filtered range."
      />
      <Panel title="Filters">
        <form action="/admin/audit" method="get" className="grid gap-3 sm:grid-cols-3 lg:grid-cols-6" data-testid="audit-filters">
          <div>
            <label htmlFor="f-start" className={labelClass}>
              From (UTC)
            </label>
            <input id="f-start" name="start" type="datetime-local" defaultValue={asLocal(params.start)} className={inputClass} />
          </div>
          <div>
            <label htmlFor="f-end" className={labelClass}>
              Until (UTC)
            </label>
            <input id="f-end" name="end" type="datetime-local" defaultValue={asLocal(params.end)} className={inputClass} />
          </div>
          <div>
            <label htmlFor="f-action" className={labelClass}>
              Action (prefix*)
            </label>
            <input id="f-action" name="action" placeholder="token.*" defaultValue={params.action} className={inputClass} />
          </div>
          <div>
            <label htmlFor="f-client" className={labelClass}>
              Client id
            </label>
            <input id="f-client" name="client_id" defaultValue={params.client_id} className={inputClass} />
          </div>
          <div>
            <label htmlFor="f-user" className={labelClass}>
              User id
            </label>
            <input id="f-user" name="user_id" defaultValue={params.user_id} className={inputClass} />
          </div>
          <div>
            <label htmlFor="f-ip" className={labelClass}>
              IP address
            </label>
            <input id="f-ip" name="ip" defaultValue={params.ip} className={inputClass} />
          </div>
          <div className="flex flex-wrap gap-2 sm:col-span-3 lg:col-span-6">
            <button type="submit" className={primaryClass} data-testid="audit-apply">
              Apply filters
            </button>
            <Link href="/admin/audit" className={buttonClass}>
              Clear
            </Link>
            <a href={`/api/admin/audit?${exportQuery}${exportQuery.size ? '&' : ''}format=csv`} className={buttonClass} data-testid="audit-export" download>
              <Download aria-hidden className="h-4 w-4" />
              Export CSV
            </a>
            <a href={`/api/admin/audit?${exportQuery}${exportQuery.size ? '&' : ''}format=json`} className={buttonClass} download>
              <Download aria-hidden className="h-4 w-4" />
              Export JSON
            </a>
          </div>
        </form>
      </Panel>
      <div className="mt-4">
        <Panel title="Events" testId="audit-events">
          {problem ? (
            <ErrorNote>{problem}</ErrorNote>
          ) : !page || page.entries.length === 0 ? (
            <Empty>No events match these filters.</Empty>
          ) : (
            <>
              <Table caption="Audit events" head={['Time', 'Event', 'User', 'Client', 'IP / user agent']} testId="audit-table">
                <EventRows entries={page.entries} />
              </Table>
              <Pager next={page.next_cursor} base="/admin/audit" params={params} />
            </>
          )}
        </Panel>
      </div>
    </>
  );
}
