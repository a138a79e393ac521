'use client';

import { useCallback, useEffect, useState } from 'react';
import Link from 'next/link';
import {
  AppWindow,
  CircleAlert,
  CircleCheck,
  Fingerprint,
  History,
  Inbox,
  KeyRound,
  Laptop,
  Loader2,
  LogOut,
  MonitorSmartphone,
  RefreshCw,
  Smartphone,
  Tablet,
  UserRound,
} from 'lucide-react';
import { buttonClass, focusRing, Panel, Skeleton } from '@/components/analytics/shared';
import { Field, labelClass, PasswordField, UsernameHint } from '@/components/auth/form';

// --- API ------------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
  }
}

/** The account API: JSON both ways, the CSRF token on every POST, one error shape ({error, message, parameter}). */
function useApi(csrf: string) {
  return useCallback(
    async <T,>(path: string, body?: unknown): Promise<T> => {
      let response: Response;
      try {
        response = await fetch(
          path,
          body === undefined
            ? { cache: 'no-store', headers: { accept: 'application/json' } }
            : {
                method: 'POST',
                cache: 'no-store',
                headers: { accept: 'application/json', 'content-type': 'application/json', 'x-csrf-token': csrf },
                body: JSON.stringify(body),
              },
        );
      } catch {
        throw new ApiError(0, 'network', 'The request could not be sent. Check your connection and try again.');
      }
      let json: { error?: string; message?: string; parameter?: string } & Record<string, unknown> = {};
      try {
        json = await response.json();
      } catch {
        // not JSON
      }
      if (response.ok) return json as T;
      if (response.status === 401) throw new ApiError(401, 'unauthenticated', 'Your session has ended. Reload the page to sign in again.');
      throw new ApiError(
        response.status,
        json.error ?? 'error',
        json.message ? `${json.message}.` : `The request failed (HTTP ${response.status}).`,
        json.parameter,
      );
    },
    [csrf],
  );
}

type Api = ReturnType<typeof useApi>;

/** One GET resource with loading, error and reload. */
function useResource<T>(api: Api, path: string) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const reload = useCallback(async () => {
    setError(null);
    try {
      setData(await api<T>(path));
    } catch (e) {
      setError(e instanceof Error ? e.message : 'Loading failed.');
    }
  }, [api, path]);
  useEffect(() => {
    void reload();
  }, [reload]);
  return { data, error, reload };
}

// --- shared bits ---------------------------------------------------------------------------------

const primary =
  `inline-flex items-center justify-center gap-1.5 rounded-md bg-brand-600 px-3 py-1.5 text-sm font-semibold text-white shadow-sm ` +
  `hover:bg-brand-700 disabled:cursor-not-allowed disabled:opacity-60 ${focusRing}`;
const danger =
  `inline-flex items-center justify-center gap-1.5 rounded-md border border-red-300 bg-white px-3 py-1.5 text-sm font-medium text-red-700 ` +
  `shadow-sm hover:bg-red-50 disabled:cursor-not-allowed disabled:opacity-60 ${focusRing}`;

function formatWhen(iso: string | null): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' }).format(new Date(iso));
}

function relative(iso: string): string {
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 90) return 'just now';
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} minutes ago`;
  if (seconds < 36 * 3600) return `${Math.round(seconds / 3600)} hours ago`;
  return formatWhen(iso);
}

function ErrorNote({ message, onRetry, testId }: { message: string; onRetry?: () => void; testId?: string }) {
  return (
    <div
      role="alert"
      data-testid={testId}
      className="flex flex-wrap items-center gap-2 rounded-md border border-red-200 bg-red-50 px-3 py-2.5 text-sm text-red-800"
    >
      <CircleAlert aria-hidden className="h-4 w-4 shrink-0" />
      <p className="min-w-0 flex-1">{message}</p>
      {onRetry && (
        <button type="button" className={buttonClass} onClick={onRetry}>
          <RefreshCw aria-hidden className="h-4 w-4" />
          Retry
        </button>
      )}
    </div>
  );
}

function SuccessNote({ message, testId }: { message: string; testId?: string }) {
  return (
    <p
      role="status"
      data-testid={testId}
      className="flex items-center gap-2 rounded-md border border-emerald-200 bg-emerald-50 px-3 py-2 text-sm text-emerald-800"
    >
      <CircleCheck aria-hidden className="h-4 w-4 shrink-0" />
      {message}
    </p>
  );
}

function Empty({ icon: Icon, text, testId }: { icon: typeof Inbox; text: string; testId?: string }) {
  return (
    <div
      className="flex flex-col items-center gap-2 rounded-md border border-dashed border-slate-300 px-4 py-6 text-center text-sm text-slate-500"
      data-testid={testId}
    >
      <Icon aria-hidden className="h-6 w-6 text-slate-400" />
      {text}
    </div>
  );
}

function ListSkeleton({ rows = 2 }: { rows?: number }) {
  return (
    <div className="space-y-2" aria-busy="true" aria-label="Loading">
      {Array.from({ length: rows }, (_, i) => (
        <Skeleton key={i} className="h-14 w-full" />
      ))}
    </div>
  );
}

// --- the page ------------------------------------------------------------------------------------

export function AccountPage({ csrf, email, initialName }: { csrf: string; email: string; initialName: string | null }) {
  const api = useApi(csrf);
  return (
    <div className="grid gap-4 sm:gap-5 lg:grid-cols-2">
      <ProfilePanel api={api} email={email} initialName={initialName} />
      <PasswordPanel api={api} />
      <div className="lg:col-span-2">
        <SignInMethodsPanel />
      </div>
      <div className="lg:col-span-2">
        <SessionsPanel api={api} />
      </div>
      <div className="lg:col-span-2">
        <AppsPanel api={api} />
      </div>
      <div className="lg:col-span-2">
        <ActivityPanel api={api} />
      </div>
    </div>
  );
}

function ProfilePanel({ api, email, initialName }: { api: Api; email: string; initialName: string | null }) {
  const [name, setName] = useState(initialName ?? '');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; message: string } | null>(null);
  const save = async (event: React.FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setResult(null);
    try {
      const body = await api<{ profile: { name: string | null } }>('/api/account/profile', { name });
      setName(body.profile.name ?? '');
      setResult({ ok: true, message: 'Profile saved.' });
    } catch (e) {
      setResult({ ok: false, message: e instanceof Error ? e.message : 'Saving failed.' });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Panel title="Profile" description="What applications you sign in to see about you." testId="profile-panel">
      <form onSubmit={save} className="space-y-4">
        <div>
          <span className={labelClass}>Email</span>
          <p className="mt-1 break-all text-sm text-slate-900" data-testid="profile-email">
            {email}
          </p>
        </div>
        <Field
          id="profile-name"
          label="Name"
          name="name"
          autoComplete="name"
          maxLength={200}
          value={name}
          onChange={(e) => setName(e.target.value)}
          data-testid="profile-name"
        />
        {result && (result.ok ? <SuccessNote message={result.message} testId="profile-saved" /> : <ErrorNote message={result.message} />)}
        <button type="submit" className={primary} disabled={busy} data-testid="profile-save">
          {busy ? <Loader2 aria-hidden className="h-4 w-4 animate-spin" /> : <UserRound aria-hidden className="h-4 w-4" />}
          Save profile
        </button>
      </form>
    </Panel>
  );
}

function PasswordPanel({ api }: { api: Api }) {
  const [fields, setFields] = useState({ current_password: '', new_password: '', confirm_password: '' });
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; message: string; parameter?: string } | null>(null);
  const set = (name: keyof typeof fields) => (e: React.ChangeEvent<HTMLInputElement>) => setFields((f) => ({ ...f, [name]: e.target.value }));
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setResult(null);
    try {
      const body = await api<{ sessions_ended: number; refresh_tokens_revoked: number }>('/api/account/password', fields);
      setFields({ current_password: '', new_password: '', confirm_password: '' });
      setResult({
        ok: true,
        message: `Password changed. ${body.sessions_ended} other session(s) ended and ${body.refresh_tokens_revoked} app token(s) revoked.`,
      });
    } catch (e) {
      setResult({ ok: false, message: e instanceof Error ? e.message : 'The change failed.', parameter: e instanceof ApiError ? e.parameter : undefined });
    } finally {
      setBusy(false);
    }
  };
  const invalid = (name: string) => (result && !result.ok && result.parameter === name) || undefined;
  return (
    <Panel title="Password" description="Changing it signs you out everywhere else and disconnects the apps' tokens." testId="password-panel">
      <form onSubmit={submit} className="space-y-3">
        <UsernameHint email="" />
        <PasswordField
          id="current-password"
          label="Current password"
          autoComplete="current-password"
          value={fields.current_password}
          onChange={set('current_password')}
          aria-invalid={invalid('current_password')}
        />
        <PasswordField
          id="new-password"
          label="New password"
          autoComplete="new-password"
          minLength={12}
          value={fields.new_password}
          onChange={set('new_password')}
          aria-invalid={invalid('new_password')}
          hint="Long enough and hard to guess. A few unrelated words make a strong, memorable password."
          hintId="new-password-hint"
        />
        <PasswordField
          id="confirm-password"
          label="Confirm new password"
          autoComplete="new-password"
          minLength={12}
          value={fields.confirm_password}
          onChange={set('confirm_password')}
          aria-invalid={invalid('confirm_password')}
        />
        {result &&
          (result.ok ? <SuccessNote message={result.message} testId="password-changed" /> : <ErrorNote message={result.message} testId="password-error" />)}
        <button type="submit" className={primary} disabled={busy} data-testid="password-change">
          {busy ? <Loader2 aria-hidden className="h-4 w-4 animate-spin" /> : <KeyRound aria-hidden className="h-4 w-4" />}
          Change password
        </button>
      </form>
    </Panel>
  );
}

function SignInMethodsPanel() {
  return (
    <Panel title="Sign-in methods" description="Passkeys, authenticator apps and recovery codes." testId="sign-in-methods">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <p className="flex items-center gap-2 text-sm text-slate-600">
          <Fingerprint aria-hidden className="h-5 w-5 text-brand-600" />
          Add a second factor or a passkey so a stolen password alone cannot open your account.
        </p>
        <Link href="/account/security" prefetch={false} className={buttonClass} data-testid="security-link">
          <KeyRound aria-hidden className="h-4 w-4" />
          Manage sign-in methods
        </Link>
      </div>
    </Panel>
  );
}

interface SessionItem {
  id: string;
  current: boolean;
  browser: string | null;
  device_type: 'desktop' | 'mobile' | 'tablet' | 'unknown';
  ip_address: string | null;
  signed_in_at: string;
  last_seen_at: string;
  expires_at: string;
}

const DEVICE_ICONS = { desktop: Laptop, mobile: Smartphone, tablet: Tablet, unknown: MonitorSmartphone } as const;

function SessionsPanel({ api }: { api: Api }) {
  const { data, error, reload } = useResource<{ sessions: SessionItem[] }>(api, '/api/account/sessions');
  const [busy, setBusy] = useState<string | null>(null);
  const [note, setNote] = useState<{ ok: boolean; message: string } | null>(null);
  const end = async (body: { session_id: string } | { all_others: true }, key: string) => {
    setBusy(key);
    setNote(null);
    try {
      const result = await api<{ sessions_ended: number }>('/api/account/sessions/end', body);
      setNote({ ok: true, message: result.sessions_ended === 1 ? 'Session ended.' : `${result.sessions_ended} sessions ended.` });
      await reload();
    } catch (e) {
      setNote({ ok: false, message: e instanceof Error ? e.message : 'Ending the session failed.' });
    } finally {
      setBusy(null);
    }
  };
  const others = data?.sessions.filter((s) => !s.current) ?? [];
  return (
    <Panel
      title="Where you are signed in"
      description="Browsers with a session here. Ending one signs that browser out; its apps keep tokens you granted until you disconnect them."
      testId="sessions-panel"
      actions={
        others.length > 0 ? (
          <button
            type="button"
            className={danger}
            disabled={busy !== null}
            onClick={() => void end({ all_others: true }, 'all')}
            data-testid="end-all-sessions"
          >
            {busy === 'all' ? <Loader2 aria-hidden className="h-4 w-4 animate-spin" /> : <LogOut aria-hidden className="h-4 w-4" />}
            End all other sessions
          </button>
        ) : undefined
      }
    >
      <div className="space-y-3">
        {note && (note.ok ? <SuccessNote message={note.message} testId="sessions-note" /> : <ErrorNote message={note.message} />)}
        {error ? (
          <ErrorNote message={error} onRetry={() => void reload()} testId="sessions-error" />
        ) : !data ? (
          <ListSkeleton />
        ) : (
          <ul className="divide-y divide-slate-200 rounded-lg border border-slate-200" data-testid="sessions-list">
            {data.sessions.map((s) => {
              const Icon = DEVICE_ICONS[s.device_type];
              return (
                <li key={s.id} className="flex flex-wrap items-center gap-3 px-3 py-3 sm:px-4" data-testid={s.current ? 'session-current' : 'session-other'}>
                  <Icon aria-hidden className="h-5 w-5 shrink-0 text-slate-500" />
                  <div className="min-w-0 flex-1">
                    <p className="flex flex-wrap items-center gap-2 text-sm font-medium text-slate-900">
                      {s.browser ?? 'Unknown browser'}
                      {s.current && <span className="rounded-full bg-brand-50 px-2 py-0.5 text-xs font-semibold text-brand-700">This device</span>}
                    </p>
                    <p className="text-xs text-slate-500">
                      {s.ip_address ?? 'IP unknown'} · signed in {formatWhen(s.signed_in_at)} · last seen {relative(s.last_seen_at)}
                    </p>
                  </div>
                  {!s.current && (
                    <button
                      type="button"
                      className={danger}
                      disabled={busy !== null}
                      onClick={() => void end({ session_id: s.id }, s.id)}
                      aria-label={`End session: ${s.browser ?? 'unknown browser'}, ${s.ip_address ?? 'IP unknown'}`}
                      data-testid="end-session"
                    >
                      {busy === s.id ? <Loader2 aria-hidden className="h-4 w-4 animate-spin" /> : <LogOut aria-hidden className="h-4 w-4" />}
                      End
                    </button>
                  )}
                </li>
              );
            })}
          </ul>
        )}
        {data && others.length === 0 && (
          <p className="text-sm text-slate-500" data-testid="no-other-sessions">
            You are not signed in anywhere else.
          </p>
        )}
      </div>
    </Panel>
  );
}

interface AppItem {
  client_id: string;
  name: string;
  first_party: boolean;
  scopes: string[];
  consented_at: string | null;
  last_used_at: string | null;
  refresh_tokens: number;
}

function AppsPanel({ api }: { api: Api }) {
  const { data, error, reload } = useResource<{ apps: AppItem[] }>(api, '/api/account/apps');
  const [busy, setBusy] = useState<string | null>(null);
  const [note, setNote] = useState<{ ok: boolean; message: string } | null>(null);
  const revoke = async (app: AppItem) => {
    setBusy(app.client_id);
    setNote(null);
    try {
      const result = await api<{ refresh_tokens_revoked: number }>('/api/account/apps/revoke', { client_id: app.client_id });
      setNote({ ok: true, message: `${app.name} disconnected; ${result.refresh_tokens_revoked} token(s) revoked.` });
      await reload();
    } catch (e) {
      setNote({ ok: false, message: e instanceof Error ? e.message : 'Disconnecting failed.' });
    } finally {
      setBusy(null);
    }
  };
  return (
    <Panel title="Connected apps" description="Apps you allowed to act for you. Disconnecting one revokes its tokens; it must ask again." testId="apps-panel">
      <div className="space-y-3">
        {note && (note.ok ? <SuccessNote message={note.message} testId="apps-note" /> : <ErrorNote message={note.message} />)}
        {error ? (
          <ErrorNote message={error} onRetry={() => void reload()} testId="apps-error" />
        ) : !data ? (
          <ListSkeleton />
        ) : data.apps.length === 0 ? (
          <Empty icon={AppWindow} text="No app holds access to your account." testId="apps-empty" />
        ) : (
          <ul className="divide-y divide-slate-200 rounded-lg border border-slate-200" data-testid="apps-list">
            {data.apps.map((app) => (
              <li key={app.client_id} className="flex flex-wrap items-center gap-3 px-3 py-3 sm:px-4" data-testid="app-item" data-client-id={app.client_id}>
                <AppWindow aria-hidden className="h-5 w-5 shrink-0 text-slate-500" />
                <div className="min-w-0 flex-1">
                  <p className="text-sm font-medium text-slate-900">{app.name}</p>
                  <p className="mt-0.5 flex flex-wrap gap-1">
                    {app.scopes.map((scope) => (
                      <span key={scope} className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-slate-700">
                        {scope}
                      </span>
                    ))}
                  </p>
                  <p className="mt-0.5 text-xs text-slate-500">
                    {app.last_used_at ? `Last used ${relative(app.last_used_at)}` : 'Not used yet'}
                    {app.refresh_tokens > 0 ? ` · ${app.refresh_tokens} active token${app.refresh_tokens === 1 ? '' : 's'}` : ''}
                    {app.consented_at ? ` · allowed ${formatWhen(app.consented_at)}` : ''}
                  </p>
                </div>
                <button
                  type="button"
                  className={danger}
                  disabled={busy !== null}
                  onClick={() => void revoke(app)}
                  aria-label={`Disconnect ${app.name}`}
                  data-testid="revoke-app"
                >
                  {busy === app.client_id ? <Loader2 aria-hidden className="h-4 w-4 animate-spin" /> : <LogOut aria-hidden className="h-4 w-4" />}
                  Disconnect
                </button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </Panel>
  );
}

interface ActivityItem {
  id: string;
  created_at: string;
  action: string;
  client_id: string | null;
  client_name: string | null;
  ip_address: string | null;
  browser: string | null;
  details: Record<string, string | number | boolean>;
}

const ACTION_LABELS: Record<string, { text: string; tone: 'ok' | 'warn' | 'bad' }> = {
  'auth.login_succeeded': { text: 'Signed in', tone: 'ok' },
  'auth.login_failed': { text: 'Failed sign-in', tone: 'warn' },
  'auth.account_locked': { text: 'Sign-ins throttled', tone: 'bad' },
  'auth.logout': { text: 'Signed out', tone: 'ok' },
  'auth.password_changed': { text: 'Password changed', tone: 'ok' },
  'auth.session_ended': { text: 'Session ended', tone: 'ok' },
  'auth.app_revoked': { text: 'App disconnected', tone: 'ok' },
  'auth.profile_updated': { text: 'Profile updated', tone: 'ok' },
  'security.suspicious': { text: 'Suspicious activity', tone: 'bad' },
  'token.refresh_reused': { text: 'Refresh token reused: app tokens revoked', tone: 'bad' },
  'token.code_replayed': { text: 'Sign-in code replayed: app tokens revoked', tone: 'bad' },
};
const TONES = { ok: 'bg-emerald-50 text-emerald-800', warn: 'bg-amber-50 text-amber-800', bad: 'bg-red-50 text-red-800' } as const;

function ActivityPanel({ api }: { api: Api }) {
  const [entries, setEntries] = useState<ActivityItem[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const load = useCallback(async () => {
    setError(null);
    try {
      const page = await api<{ entries: ActivityItem[]; next_cursor: string | null }>('/api/account/activity');
      setEntries(page.entries);
      setNext(page.next_cursor);
    } catch (e) {
      setError(e instanceof Error ? e.message : 'Loading failed.');
    }
  }, [api]);
  useEffect(() => {
    void load();
  }, [load]);
  const more = async () => {
    if (!next) return;
    setLoadingMore(true);
    try {
      const page = await api<{ entries: ActivityItem[]; next_cursor: string | null }>(`/api/account/activity?cursor=${encodeURIComponent(next)}`);
      setEntries((prev) => [...(prev ?? []), ...page.entries.filter((e) => !prev?.some((p) => p.id === e.id))]);
      setNext(page.next_cursor);
    } catch (e) {
      setError(e instanceof Error ? e.message : 'Loading more failed.');
    } finally {
      setLoadingMore(false);
    }
  };
  return (
    <Panel
      title="Security activity"
      description="Sign-ins, failures, throttling and changes to your account, newest first."
      testId="activity-panel"
      actions={
        <button type="button" className={buttonClass} onClick={() => void load()} data-testid="activity-refresh">
          <RefreshCw aria-hidden className="h-4 w-4" />
          Refresh
        </button>
      }
    >
      {error && (
        <div className="mb-3">
          <ErrorNote message={error} onRetry={() => void load()} testId="activity-error" />
        </div>
      )}
      {!entries ? (
        !error && <ListSkeleton rows={3} />
      ) : entries.length === 0 ? (
        <Empty icon={History} text="No security events yet." testId="activity-empty" />
      ) : (
        <>
          <ol className="divide-y divide-slate-200 rounded-lg border border-slate-200" data-testid="activity-list">
            {entries.map((e) => {
              const known = ACTION_LABELS[e.action] ?? { text: e.action, tone: 'ok' as const };
              const reason = typeof e.details.reason === 'string' ? e.details.reason.replace(/_/g, ' ') : null;
              return (
                <li key={e.id} className="flex flex-wrap items-start gap-x-3 gap-y-1 px-3 py-2.5 sm:px-4" data-testid="activity-item" data-action={e.action}>
                  <span className={`rounded px-2 py-0.5 text-xs font-semibold ${TONES[known.tone]}`}>{known.text}</span>
                  <span className="min-w-0 flex-1 basis-40 text-xs text-slate-600">
                    {[e.client_name ?? e.client_id, e.browser, e.ip_address, reason].filter(Boolean).join(' · ') || '—'}
                  </span>
                  <time dateTime={e.created_at} className="w-full text-xs text-slate-500 sm:w-auto">
                    {formatWhen(e.created_at)}
                  </time>
                </li>
              );
            })}
          </ol>
          {next && (
            <div className="mt-3 flex justify-center">
              <button type="button" className={buttonClass} onClick={() => void more()} disabled={loadingMore} data-testid="activity-more">
                {loadingMore ? <Loader2 aria-hidden className="h-4 w-4 animate-spin" /> : <History aria-hidden className="h-4 w-4" />}
                Load older events
              </button>
            </div>
          )}
        </>
      )}
    </Panel>
  );
}
