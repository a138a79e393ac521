import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { BarChart3, Users } from 'lucide-react';
import { ActionButton, UserEditForm } from '@/components/admin/actions';
import { EventRows } from '@/components/admin/events';
import { Badge, Empty, PageHeader, Pager, Panel, Table, linkClass, td, when } from '@/components/admin/ui';
import { adminPage, queryOf } from '@/lib/admin/page';
import { pageQuery, userIdParam } from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'User · Admin' };

export default async function UserPage({
  params,
  searchParams,
}: {
  params: Promise<{ userId: string }>;
  searchParams: Promise<Record<string, string | string[] | undefined>>;
}) {
  const { service, admin } = await adminPage();
  const id = userIdParam.safeParse(await params);
  if (!id.success) notFound();
  const userId = id.data.userId;
  const query = await queryOf(searchParams);
  const detail = await service.getUser(userId).catch(() => null);
  if (!detail) notFound();
  const { user, counts } = detail;
  const events = pageQuery.safeParse({ cursor: query.cursor, limit: 25 });
  const [sessions, consents, families, audit] = await Promise.all([
    service.listSessions({ cursor: null, limit: 50, userId }),
    service.userConsents(userId),
    service.userFamilies(userId, { cursor: null, limit: 50 }),
    service.userEvents(userId, events.success ? events.data : { cursor: null, limit: 25 }),
  ]);
  const api = `/api/admin/users/${userId}`;
  const self = admin.status === 'admin' && admin.userId === userId;
  return (
    <>
      <PageHeader
        icon={<Users aria-hidden className="h-6 w-6 text-brand-600" />}
        title={user.email}
        crumbs={[{ href: '/admin/users', label: 'Users' }]}
        actions={
          <Link href={`/analytics/tokens?user_id=${userId}`} className={`${linkClass} inline-flex items-center gap-1 text-sm`}>
            <BarChart3 aria-hidden className="h-4 w-4" />
            Analytics for this user
          </Link>
        }
      />
      <div className="grid gap-4 lg:grid-cols-2">
        <Panel title="Account" testId="user-account">
          <dl className="mb-4 grid grid-cols-[auto_1fr] gap-x-3 gap-y-1 text-sm">
            <dt className="text-slate-600">Id</dt>
            <dd className="break-all" data-testid="user-id">
              {user.id}
            </dd>
            <dt className="text-slate-600">State</dt>
            <dd data-testid="user-state">
              {user.locked ? <Badge tone="red">locked until {when(user.locked_until)}</Badge> : <Badge tone="green">active</Badge>}{' '}
              {user.must_change_password && <Badge tone="amber">must change password</Badge>}
            </dd>
            <dt className="text-slate-600">Email verified</dt>
            <dd>{user.email_verified ? 'yes' : 'no'}</dd>
            <dt className="text-slate-600">Created</dt>
            <dd>{when(user.created_at)}</dd>
          </dl>
          <UserEditForm user={user} />
        </Panel>
        <Panel
          title="Actions"
          description={`Live grants: ${counts.live_families} (${counts.live_refresh_tokens} usable refresh tokens), ${counts.consents} consents, ${sessions.items.length} active sessions.`}
        >
          <div className="flex flex-wrap gap-3">
            {user.locked ? (
              <ActionButton path={`${api}/unlock`} label="Unlock" testId="user-unlock" />
            ) : (
              !self && (
                <ActionButton
                  path={`${api}/lock`}
                  label="Lock account"
                  danger
                  testId="user-lock"
                  confirm={`Sign-in is refused until you unlock the account; its ${sessions.items.length} sessions end and ${counts.live_refresh_tokens} refresh tokens are revoked.`}
                  done="Locked; {sessions_ended} sessions ended, {revoked_refresh_tokens} refresh tokens revoked."
                />
              )
            )}
            <ActionButton
              path={`${api}/force-password-change`}
              label="Force password change"
              testId="user-force-password"
              confirm="At their next sign-in the user must choose a new password."
            />
            <ActionButton
              path={`${api}/end-sessions`}
              label="End all sessions"
              testId="user-end-sessions"
              confirm={`Ends ${sessions.items.length} active sessions; the user must sign in again (refresh tokens stay valid).`}
              done="{sessions_ended} sessions ended."
            />
            {!self && (
              <ActionButton
                path={`${api}/delete`}
                label="Delete user"
                danger
                testId="user-delete"
                after="/admin/users"
                confirm={`Deletes the account with its sessions, ${counts.consents} consents and ${counts.live_families} grants (${counts.live_refresh_tokens} refresh tokens). This cannot be undone.`}
              />
            )}
          </div>
        </Panel>
      </div>
      <div className="mt-4 grid gap-4 lg:grid-cols-2">
        <Panel title="Sessions" testId="user-sessions">
          {sessions.items.length === 0 ? (
            <Empty>No active sessions.</Empty>
          ) : (
            <Table caption="Active sessions" head={['Device', 'IP', 'Signed in', 'Last seen', 'Expires', '']}>
              {sessions.items.map((s) => (
                <tr key={s.sid}>
                  <td className={td}>{s.device ?? 'Unknown browser'}</td>
                  <td className={td}>{s.ip_address ?? '—'}</td>
                  <td className={td}>{when(s.auth_time)}</td>
                  <td className={td}>{when(s.last_seen_at)}</td>
                  <td className={td}>{when(s.expires_at)}</td>
                  <td className={td}>
                    <ActionButton
                      path={`/api/admin/sessions/${s.sid}/end`}
                      label="End"
                      testId="session-end"
                      confirm="Ends this session: that browser must sign in again."
                    />
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Panel>
        <Panel title="Consents" description="Revoking a consent also revokes the refresh tokens the client holds for this user." testId="user-consents">
          {consents.items.length === 0 ? (
            <Empty>No consents.</Empty>
          ) : (
            <Table caption="Consents" head={['Client', 'Scopes', 'Updated', '']}>
              {consents.items.map((c) => (
                <tr key={c.client_id}>
                  <td className={td}>
                    <Link className={linkClass} href={`/admin/clients/${encodeURIComponent(c.client_id)}`}>
                      {c.client_name}
                    </Link>
                  </td>
                  <td className={`${td} text-xs`}>{c.scopes.join(' ')}</td>
                  <td className={`${td} text-xs`}>{when(c.updated_at)}</td>
                  <td className={td}>
                    <ActionButton
                      path={`${api}/consents/${encodeURIComponent(c.client_id)}/revoke`}
                      label="Revoke"
                      danger
                      testId="consent-revoke"
                      confirm="Withdraws the consent and revokes this client's refresh tokens for the user."
                    />
                  </td>
                </tr>
              ))}
            </Table>
          )}
        </Panel>
      </div>
      <div className="mt-4">
        <Panel title="Token ledger" testId="user-ledger">
          {families.items.length === 0 ? (
            <Empty>No grants.</Empty>
          ) : (
            <Table caption="Grants of this user" head={['Client', 'Scope', 'Created', 'Refresh tokens', 'State', '']}>
              {families.items.map((f) => (
                <tr key={f.family_id}>
                  <td className={td}>
                    <Link className={linkClass} href={`/admin/clients/${encodeURIComponent(f.client_id)}`}>
                      {f.client_id}
                    </Link>
                  </td>
                  <td className={`${td} text-xs`}>{f.scope.join(' ')}</td>
                  <td className={`${td} text-xs`}>{when(f.created_at)}</td>
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
          )}
        </Panel>
      </div>
      <div className="mt-4">
        <Panel
          title="Security events and activity"
          description="Sign-ins with IP and user agent, lockouts, reuse detections: this user's audit trail."
          testId="user-events"
        >
          {audit.items.length === 0 ? (
            <Empty>No events.</Empty>
          ) : (
            <>
              <Table caption="Audit events of this user" head={['Time', 'Event', 'Client', 'IP / user agent']}>
                <EventRows entries={audit.items} showUser={false} />
              </Table>
              <Pager next={audit.next_cursor} base={`/admin/users/${userId}`} params={query} />
            </>
          )}
        </Panel>
      </div>
    </>
  );
}
