import type { Metadata } from 'next';
import Link from 'next/link';
import { Plus, Users } from 'lucide-react';
import { Badge, Empty, ErrorNote, PageHeader, Pager, Panel, SearchForm, Table, linkClass, primaryClass, td, when } from '@/components/admin/ui';
import { adminPage, queryOf } from '@/lib/admin/page';
import { pageQuery } from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Users · Admin' };

export default async function UsersPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { service } = await adminPage();
  const params = await queryOf(searchParams);
  const parsed = pageQuery.safeParse({ ...params, q: params.q || undefined });
  return (
    <>
      <PageHeader
        icon={<Users aria-hidden className="h-6 w-6 text-brand-600" />}
        title="Users"
        description="Accounts of the provider. Search by email, name or id."
        actions={
          <Link href="/admin/users/new" className={primaryClass} data-testid="new-user">
            <Plus aria-hidden className="h-4 w-4" />
            Create user
          </Link>
        }
      />
      <Panel title="All users">
        <SearchForm action="/admin/users" q={params.q} label="Search users" />
        {!parsed.success ? (
          <ErrorNote>
            That search or page link is not valid.{' '}
            <Link href="/admin/users" className="underline">
              Start over
            </Link>
            .
          </ErrorNote>
        ) : (
          await (async () => {
            const page = await service.listUsers(parsed.data);
            if (!page.items.length) return <Empty>{params.q ? 'No user matches this search.' : 'No users yet.'}</Empty>;
            return (
              <>
                <Table caption="Users" head={['User', 'Roles', 'State', 'Created']} testId="users-table">
                  {page.items.map((u) => (
                    <tr key={u.id} data-testid="user-row">
                      <td className={td}>
                        <Link className={linkClass} href={`/admin/users/${u.id}`}>
                          {u.email}
                        </Link>
                        <div className="text-xs text-slate-600">{u.name ?? ''}</div>
                      </td>
                      <td className={td}>
                        {u.roles.map((r) => (
                          <Badge key={r} tone="blue">
                            {r}
                          </Badge>
                        ))}
                      </td>
                      <td className={td}>
                        {u.locked ? <Badge tone="red">locked</Badge> : <Badge tone="green">active</Badge>}{' '}
                        {u.must_change_password && <Badge tone="amber">must change password</Badge>}
                      </td>
                      <td className={`${td} whitespace-nowrap text-xs`}>{when(u.created_at)}</td>
                    </tr>
                  ))}
                </Table>
                <Pager next={page.next_cursor} base="/admin/users" params={params} />
              </>
            );
          })()
        )}
      </Panel>
    </>
  );
}
