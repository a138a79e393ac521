import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { AppWindow, BarChart3 } from 'lucide-react';
import { ActionButton, ClientEditForm, RotateSecretForm } from '@/components/admin/actions';
import { Badge, Empty, PageHeader, Pager, Panel, Table, linkClass, td, when } from '@/components/admin/ui';
import { adminPage, queryOf } from '@/lib/admin/page';
import { pageQuery } from '@/lib/admin/schemas';
import { AdminError } from '@/lib/admin/service';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Client · Admin' };

export default async function ClientPage({
  params,
  searchParams,
}: {
  params: Promise<{ clientId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { service } = await adminPage();
  const raw = (await params).clientId;
  let clientId = raw;
  try {
    clientId = decodeURIComponent(raw);
  } catch {
    notFound();
  }
  const query = await queryOf(searchParams);
  const detail = await service.getClient(clientId).catch((error) => {
    if (error instanceof AdminError && error.status === 404) notFound();
    throw error;
  });
  const { client, counts } = detail;
  const paging = pageQuery.safeParse({ cursor: query.cursor, limit: 25 });
  const [families, failures] = await Promise.all([
    service.clientFamilies(clientId, paging.success ? paging.data : { cursor: null, limit: 25 }),
    service.clientFailures(clientId),
  ]);
  const api = `/api/admin/clients/${encodeURIComponent(clientId)}`;
  return (
    <>
      <PageHeader
        icon={<AppWindow aria-hidden className="h-6 w-6 text-brand-600" />}
        title={client.name}
        crumbs={[{ href: '/admin/clients', label: 'Clients' }]}
        actions={
          <Link
            href={`/analytics/tokens?client_id=${encodeURIComponent(clientId)}`}
            className={`${linkClass} inline-flex items-center gap-1 text-sm`}
            data-testid="client-analytics"
          >
            <BarChart3 aria-hidden className="h-4 w-4" />
            Analytics for this client
          </Link>
        }
      />
      <div className="grid gap-4 lg:grid-cols-2">
        <Panel title="Registration" testId="client-registration">
          <dl className="grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
            <dt className="text-slate-600">client_id</dt>
            <dd className="break-all" data-testid="client-id">
              {client.client_id}
            </dd>
            <dt className="text-slate-600">Kind</dt>
            <dd>
              <Badge tone="blue">{client.kind}</Badge> {client.token_endpoint_auth_method}
            </dd>
            <dt className="text-slate-600">State</dt>
            <dd data-testid="client-state">{client.disabled ? <Badge tone="red">disabled</Badge> : <Badge tone="green">enabled</Badge>}</dd>
            <dt className="text-slate-600">Grants</dt>
            <dd>{client.grant_types.join(', ')}</dd>
            <dt className="text-slate-600">ID token alg</dt>
            <dd>{client.id_token_signed_response_alg}</dd>
            <dt className="text-slate-600">Previous secret</dt>
            <dd>{client.previous_secret_expires_at ? `valid until ${when(client.previous_secret_expires_at)}` : '—'}</dd>
            <dt className="text-slate-600">Created</dt>
            <dd>{when(client.created_at)}</dd>
          </dl>
          <div className="mt-4">
            <ClientEditForm client={client} />
          </div>
        </Panel>
        <div className="grid content-start gap-4">
          {client.kind === 'confidential' && (
            <Panel title="Client secret">
              <RotateSecretForm clientId={client.client_id} />
            </Panel>
          )}
          <Panel
            title="Disable or delete"
            description={`Live grants: ${counts.live_families} (${counts.live_refresh_tokens} usable refresh tokens), ${counts.consents} consents.`}
          >
            <div className="flex flex-wrap gap-3">
              <ActionButton
                path={`${api}/disable`}
                body={{ disabled: !client.disabled }}
                label={client.disabled ? 'Enable client' : 'Disable client'}
                testId="client-disable"
                confirm={
                  client.disabled
                    ? 'The client can authenticate and get tokens again.'
                    : `Every endpoint will treat the client as unknown, and its ${counts.live_refresh_tokens} usable refresh tokens (${counts.live_families} grants) are revoked.`
                }
                done="Done; {revoked_refresh_tokens} refresh tokens revoked."
                danger={!client.disabled}
              />
              <ActionButton
                path={`${api}/delete`}
                label="Delete client"
                danger
                testId="client-delete"
                after="/admin/clients"
                confirm={`Deletes the registration, its ${counts.consents} consents and ${counts.live_families} grants: ${counts.live_refresh_tokens} usable refresh tokens are revoked. This cannot be undone.`}
              />
            </div>
          </Panel>
          <Panel title="Failures, last 7 days" testId="client-failures">
            {failures.items.length === 0 ? (
              <Empty>No failures.</Empty>
            ) : (
              <Table caption="Failures by reason" head={['Event', 'Reason', 'Count']}>
                {failures.items.map((f) => (
                  <tr key={`${f.action}:${f.reason}`}>
                    <td className={td}>
                      <Link className={linkClass} href={`/admin/audit?client_id=${encodeURIComponent(clientId)}&action=${encodeURIComponent(f.action)}`}>
                        {f.action}
                      </Link>
                    </td>
                    <td className={td}>{f.reason}</td>
                    <td className={`${td} tabular-nums`}>{f.count}</td>
                  </tr>
                ))}
              </Table>
            )}
          </Panel>
        </div>
      </div>
      <div className="mt-4">
        <Panel
          title="Token ledger"
          description="Grants (token families): one per authorization, with its refresh tokens. Revoking one ends its refresh tokens and the access tokens issued from it."
          testId="client-ledger"
        >
          {families.items.length === 0 ? (
            <Empty>No grants.</Empty>
          ) : (
            <>
              <Table caption="Grants of this client" head={['Grant', 'User', 'Scope', 'Created', 'Refresh tokens', 'State', '']}>
                {families.items.map((f) => (
                  <tr key={f.family_id} data-testid="family-row">
                    <td className={`${td} text-xs`}>
                      <Link className={linkClass} href={`/admin/audit?action=token.*&client_id=${encodeURIComponent(clientId)}`}>
                        {f.family_id.slice(0, 8)}
                      </Link>
                    </td>
                    <td className={td}>
                      {f.user_id ? (
                        <Link className={linkClass} href={`/admin/users/${f.user_id}`}>
                          {f.email ?? f.user_id}
                        </Link>
                      ) : (
                        '—'
                      )}
                    </td>
                    <td className={`${td} text-xs`}>{f.scope.join(' ')}</td>
                    <td className={`${td} whitespace-nowrap text-xs`}>{when(f.created_at)}</td>
                    <td className={`${td} tabular-nums`}>{f.live_refresh_tokens}</td>
                    <td className={td}>{f.revoked_at ? <Badge tone="red">{f.revoked_reason ?? 'revoked'}</Badge> : <Badge tone="green">live</Badge>}</td>
                    <td className={td}>
                      {!f.revoked_at && (
                        <ActionButton
                          path={`/api/admin/families/${f.family_id}/revoke`}
                          label="Revoke"
                          danger
                          testId="family-revoke"
                          confirm={`Revokes this grant: ${f.live_refresh_tokens} refresh tokens and the access tokens issued from it.`}
                        />
                      )}
                    </td>
                  </tr>
                ))}
              </Table>
              <Pager next={families.next_cursor} base={`/admin/clients/${encodeURIComponent(clientId)}`} params={query} />
            </>
          )}
        </Panel>
      </div>
    </>
  );
}
