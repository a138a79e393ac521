import type { Metadata } from 'next';
import Link from 'next/link';
import { AppWindow, Plus } from 'lucide-react';
import { Badge, Empty, ErrorNote, PageHeader, Pager, Panel, SearchForm, Table, linkClass, primaryClass, td, when } from '@/components/admin/ui';
import { adminPage, queryOf } from '@/lib/admin/page';
import { pageQuery } from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Clients · Admin' };

export default async function ClientsPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { service } = await adminPage();
  const params = await queryOf(searchParams);
  const parsed = pageQuery.safeParse({ ...params, q: params.q || undefined });
  return (
    <>
      <PageHeader
        icon={<AppWindow aria-hidden className="h-6 w-6 text-brand-600" />}
        title="Clients"
        description="Registered OAuth clients. Search by client_id or name."
        actions={
          <Link href="/admin/clients/new" className={primaryClass} data-testid="new-client">
            <Plus aria-hidden className="h-4 w-4" />
            Register client
          </Link>
        }
      />
      <Panel title="All clients">
        <SearchForm action="/admin/clients" q={params.q} label="Search clients" />
        {!parsed.success ? (
          <ErrorNote>
            That search or page link is not valid.{' '}
            <Link href="/admin/clients" className="underline">
              Start over
            </Link>
            .
          </ErrorNote>
        ) : (
          await (async () => {
            const page = await service.listClients(parsed.data);
            if (!page.items.length) return <Empty>{params.q ? 'No client matches this search.' : 'No clients registered yet.'}</Empty>;
            return (
              <>
                <Table caption="Clients" head={['Client', 'Kind', 'Grants', 'Redirect URIs', 'Created', 'State']} testId="clients-table">
                  {page.items.map((c) => (
                    <tr key={c.client_id} data-testid="client-row">
                      <td className={td}>
                        <Link className={linkClass} href={`/admin/clients/${encodeURIComponent(c.client_id)}`}>
                          {c.name}
                        </Link>
                        <div className="text-xs text-slate-600 break-all">{c.client_id}</div>
                      </td>
                      <td className={td}>
                        <Badge tone={c.kind === 'confidential' ? 'blue' : 'slate'}>{c.kind}</Badge>
                      </td>
                      <td className={`${td} text-xs`}>{c.grant_types.join(', ')}</td>
                      <td className={`${td} max-w-[18rem] break-all text-xs`}>{c.redirect_uris.join(' ') || '—'}</td>
                      <td className={`${td} whitespace-nowrap text-xs`}>{when(c.created_at)}</td>
                      <td className={td}>{c.disabled ? <Badge tone="red">disabled</Badge> : <Badge tone="green">enabled</Badge>}</td>
                    </tr>
                  ))}
                </Table>
                <Pager next={page.next_cursor} base="/admin/clients" params={params} />
              </>
            );
          })()
        )}
      </Panel>
    </>
  );
}
