'use client';

import { createContext, useContext, useId, useState } from 'react';
import { usePathname, useRouter } from 'next/navigation';
import { CircleAlert, CircleCheck, Copy, Loader2 } from 'lucide-react';
import { buttonClass, dangerClass, inputClass, labelClass, primaryClass } from './ui';

/** The session's CSRF token, handed down by the admin layout: every change sends it in X-CSRF-Token. */
const CsrfContext = createContext('');
export function CsrfProvider({ token, children }: { token: string; children: React.ReactNode }) {
  return <CsrfContext.Provider value={token}>{children}</CsrfContext.Provider>;
}

type ApiResult = { ok: true; body: Record<string, unknown> } | { ok: false; message: string };

/** POSTs JSON to the admin API; a stale sign-in sends the browser to sign in again and come back here. */
export function useAdminPost() {
  const csrf = useContext(CsrfContext);
  const pathname = usePathname();
  return async (path: string, body: unknown): Promise<ApiResult> => {
    let response: Response;
    try {
      response = await fetch(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, 'x-admin-return-to': pathname },
        body: JSON.stringify(body ?? {}),
        credentials: 'same-origin',
      });
    } catch {
      return { ok: false, message: 'The provider could not be reached. Check the connection and try again.' };
    }
    const json = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (response.ok) return { ok: true, body: json };
    if (json.error === 'reauthentication_required' && typeof json.reauth_url === 'string') {
      window.location.assign(json.reauth_url);
      return { ok: false, message: 'Sign in again to continue…' };
    }
    return { ok: false, message: typeof json.message === 'string' ? json.message : `Request failed (${response.status})` };
  };
}

function Result({ result }: { result: { tone: 'ok' | 'error'; text: string } | null }) {
  if (!result) return null;
  return result.tone === 'ok' ? (
    <p role="status" className="mt-2 flex items-center gap-1.5 text-sm text-green-800">
      <CircleCheck aria-hidden className="h-4 w-4" />
      {result.text}
    </p>
  ) : (
    <p role="alert" className="mt-2 flex items-center gap-1.5 text-sm text-red-800">
      <CircleAlert aria-hidden className="h-4 w-4" />
      {result.text}
    </p>
  );
}

/** A secret shown once, with a copy button. */
export function SecretOnce({ label, value, testId }: { label: string; value: string; testId: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="mt-3 rounded-md border border-amber-300 bg-amber-50 p-3" role="status">
      <p className="text-sm font-semibold text-amber-900">{label} (shown once: copy it now)</p>
      <div className="mt-1 flex flex-wrap items-center gap-2">
        <code className="break-all rounded bg-white px-2 py-1 text-sm" data-testid={testId}>
          {value}
        </code>
        <button
          type="button"
          className={buttonClass}
          onClick={() =>
            navigator.clipboard?.writeText(value).then(
              () => setCopied(true),
              () => {},
            )
          }
        >
          <Copy aria-hidden className="h-4 w-4" />
          {copied ? 'Copied' : 'Copy'}
        </button>
      </div>
    </div>
  );
}

/**
 * One admin action: a button that first says what it will do and asks to confirm (a second, explicit
 * button; no browser dialog), then POSTs, shows the outcome and refreshes the page's data.
 */
/** `done`: the message after success; `{field}` (dotted paths too) is replaced by the answer's value. */
const fill = (template: string, body: Record<string, unknown>) =>
  template.replace(/\{([a-z_.]+)\}/g, (_, path: string) =>
    String(path.split('.').reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], body) ?? ''),
  );

export function ActionButton({
  path,
  body,
  label,
  confirm,
  danger,
  testId,
  done,
  after,
}: {
  path: string;
  body?: unknown;
  label: string;
  confirm?: string;
  danger?: boolean;
  testId: string;
  done?: string;
  after?: string;
}) {
  const router = useRouter();
  const post = useAdminPost();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ tone: 'ok' | 'error'; text: string } | null>(null);
  const run = async () => {
    setBusy(true);
    const r = await post(path, body);
    setBusy(false);
    setAsking(false);
    if (r.ok) {
      setResult({ tone: 'ok', text: done ? fill(done, r.body) : 'Done.' });
      if (after) router.push(after);
      else router.refresh();
    } else setResult({ tone: 'error', text: r.message });
  };
  return (
    <div>
      {!asking ? (
        <button
          type="button"
          className={danger ? dangerClass : buttonClass}
          onClick={() => (confirm ? setAsking(true) : void run())}
          disabled={busy}
          data-testid={testId}
        >
          {busy && <Loader2 aria-hidden className="h-4 w-4 animate-spin" />}
          {label}
        </button>
      ) : (
        <div role="group" aria-label={`Confirm: ${label}`} className="rounded-md border border-slate-300 bg-slate-50 p-2">
          <p className="text-sm text-slate-800">{confirm}</p>
          <div className="mt-2 flex gap-2">
            <button
              type="button"
              autoFocus
              className={danger ? dangerClass : primaryClass}
              onClick={() => void run()}
              disabled={busy}
              data-testid={`${testId}-confirm`}
            >
              {busy && <Loader2 aria-hidden className="h-4 w-4 animate-spin" />}Confirm
            </button>
            <button type="button" className={buttonClass} onClick={() => setAsking(false)}>
              Cancel
            </button>
          </div>
        </div>
      )}
      <Result result={result} />
    </div>
  );
}

const lines = (s: string) =>
  s
    .split(/\s+/)
    .map((x) => x.trim())
    .filter(Boolean);

/** Register a client: kind, name, redirect URIs (checked by the API against OAuth 2.1 / RFC 8252). */
export function ClientCreateForm() {
  const post = useAdminPost();
  const router = useRouter();
  const id = useId();
  const [kind, setKind] = useState<'confidential' | 'spa' | 'native'>('confidential');
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ clientId: string; secret: string | null } | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: React.FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const grants = form.getAll('grant_types').map(String);
    setBusy(true);
    const r = await post('/api/admin/clients', {
      name: String(form.get('name') ?? ''),
      kind,
      redirect_uris: lines(String(form.get('redirect_uris') ?? '')),
      post_logout_redirect_uris: lines(String(form.get('post_logout_redirect_uris') ?? '')),
      grant_types: grants.length ? grants : undefined,
      scopes: lines(String(form.get('scopes') ?? '')).length ? lines(String(form.get('scopes'))) : undefined,
      first_party: form.get('first_party') === 'on',
    });
    setBusy(false);
    if (!r.ok) return setError(r.message);
    setError(null);
    const client = r.body.client as { client_id: string };
    setCreated({ clientId: client.client_id, secret: (r.body.client_secret as string | null) ?? null });
    router.refresh();
  };
  if (created) {
    return (
      <div data-testid="client-created">
        <p className="text-sm">
          Registered <code data-testid="created-client-id">{created.clientId}</code>.
        </p>
        {created.secret && <SecretOnce label="Client secret" value={created.secret} testId="created-client-secret" />}
        <a href={`/admin/clients/${encodeURIComponent(created.clientId)}`} className={`${primaryClass} mt-3`}>
          Open the client
        </a>
      </div>
    );
  }
  return (
    <form onSubmit={submit} className="grid max-w-2xl gap-4" aria-describedby={error ? `${id}-error` : undefined}>
      <fieldset>
        <legend className={labelClass}>Kind</legend>
        <div className="mt-1 flex flex-wrap gap-3 text-sm">
          {(
            [
              ['confidential', 'Confidential (server, has a secret)'],
              ['spa', 'Public single-page app (PKCE)'],
              ['native', 'Native app (loopback or private-use scheme)'],
            ] as const
          ).map(([value, text]) => (
            <label key={value} className="inline-flex items-center gap-1.5">
              <input type="radio" name="kind" value={value} checked={kind === value} onChange={() => setKind(value)} />
              {text}
            </label>
          ))}
        </div>
      </fieldset>
      <div>
        <label htmlFor={`${id}-name`} className={labelClass}>
          Name
        </label>
        <input id={`${id}-name`} name="name" required maxLength={200} className={inputClass} />
      </div>
      <div>
        <label htmlFor={`${id}-redirect`} className={labelClass}>
          Redirect URIs (one per line)
        </label>
        <textarea
          id={`${id}-redirect`}
          name="redirect_uris"
          rows={3}
          className={inputClass}
          placeholder={kind === 'native' ? 'com.example.app:/callback\nhttp://127.0.0.1/callback' : 'https://app.example.com/callback'}
        />
      </div>
      <div>
        <label htmlFor={`${id}-logout`} className={labelClass}>
          Post-logout redirect URIs (one per line)
        </label>
        <textarea id={`${id}-logout`} name="post_logout_redirect_uris" rows={2} className={inputClass} />
      </div>
      <fieldset>
        <legend className={labelClass}>Grant types</legend>
        <div className="mt-1 flex flex-wrap gap-3 text-sm">
          {['authorization_code', 'refresh_token', ...(kind === 'confidential' ? ['client_credentials'] : [])].map((g) => (
            <label key={g} className="inline-flex items-center gap-1.5">
              <input type="checkbox" name="grant_types" value={g} defaultChecked={g !== 'client_credentials'} />
              {g}
            </label>
          ))}
        </div>
      </fieldset>
      <div>
        <label htmlFor={`${id}-scopes`} className={labelClass}>
          Scopes (space separated; empty: openid profile email offline_access)
        </label>
        <input id={`${id}-scopes`} name="scopes" className={inputClass} />
      </div>
      <label className="inline-flex items-center gap-1.5 text-sm">
        <input type="checkbox" name="first_party" />
        First party (no consent screen)
      </label>
      {error && (
        <p id={`${id}-error`} role="alert" className="text-sm text-red-800" data-testid="form-error">
          {error}
        </p>
      )}
      <div>
        <button type="submit" className={primaryClass} disabled={busy} data-testid="client-create-submit">
          {busy && <Loader2 aria-hidden className="h-4 w-4 animate-spin" />}Register client
        </button>
      </div>
    </form>
  );
}

export function ClientEditForm({
  client,
}: {
  client: { client_id: string; name: string; redirect_uris: string[]; post_logout_redirect_uris: string[]; scopes: string[] };
}) {
  const post = useAdminPost();
  const router = useRouter();
  const id = useId();
  const [result, setResult] = useState<{ tone: 'ok' | 'error'; text: string } | null>(null);
  const submit = async (event: React.FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const r = await post(`/api/admin/clients/${encodeURIComponent(client.client_id)}`, {
      name: String(form.get('name') ?? ''),
      redirect_uris: lines(String(form.get('redirect_uris') ?? '')),
      post_logout_redirect_uris: lines(String(form.get('post_logout_redirect_uris') ?? '')),
      scopes: lines(String(form.get('scopes') ?? '')),
    });
    setResult(r.ok ? { tone: 'ok', text: 'Saved.' } : { tone: 'error', text: r.message });
    if (r.ok) router.refresh();
  };
  return (
    <form onSubmit={submit} className="grid gap-3">
      <div>
        <label htmlFor={`${id}-n`} className={labelClass}>
          Name
        </label>
        <input id={`${id}-n`} name="name" defaultValue={client.name} className={inputClass} required />
      </div>
      <div>
        <label htmlFor={`${id}-r`} className={labelClass}>
          Redirect URIs
        </label>
        <textarea id={`${id}-r`} name="redirect_uris" rows={3} defaultValue={client.redirect_uris.join('\n')} className={inputClass} />
      </div>
      <div>
        <label htmlFor={`${id}-p`} className={labelClass}>
          Post-logout redirect URIs
        </label>
        <textarea id={`${id}-p`} name="post_logout_redirect_uris" rows={2} defaultValue={client.post_logout_redirect_uris.join('\n')} className={inputClass} />
      </div>
      <div>
        <label htmlFor={`${id}-s`} className={labelClass}>
          Scopes
        </label>
        <input id={`${id}-s`} name="scopes" defaultValue={client.scopes.join(' ')} className={inputClass} />
      </div>
      <div>
        <button type="submit" className={primaryClass} data-testid="client-save">
          Save
        </button>
      </div>
      <Result result={result} />
    </form>
  );
}

/** Rotate a confidential client's secret: the new one is shown once; the old one may keep working for a grace period. */
export function RotateSecretForm({ clientId }: { clientId: string }) {
  const post = useAdminPost();
  const router = useRouter();
  const id = useId();
  const [secret, setSecret] = useState<{ value: string; graceUntil: string | null } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const submit = async (event: React.FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const grace = Number(new FormData(event.currentTarget).get('grace_seconds') ?? 0);
    const r = await post(`/api/admin/clients/${encodeURIComponent(clientId)}/rotate-secret`, { grace_seconds: Number.isFinite(grace) ? Math.floor(grace) : 0 });
    if (!r.ok) return setError(r.message);
    setError(null);
    setSecret({ value: String(r.body.client_secret), graceUntil: (r.body.previous_secret_expires_at as string | null) ?? null });
    router.refresh();
  };
  return (
    <form onSubmit={submit} className="grid gap-2">
      <p className="text-sm text-slate-700">
        A new secret replaces the current one. During the grace period the old secret still works, so you can deploy the new one first; with 0 it stops at once.
      </p>
      <div className="flex flex-wrap items-end gap-2">
        <div>
          <label htmlFor={`${id}-g`} className={labelClass}>
            Grace period (seconds)
          </label>
          <input
            id={`${id}-g`}
            name="grace_seconds"
            type="number"
            min={0}
            max={2592000}
            defaultValue={3600}
            className={inputClass}
            data-testid="grace-seconds"
          />
        </div>
        <button type="submit" className={primaryClass} data-testid="rotate-secret">
          Rotate secret
        </button>
      </div>
      {error && (
        <p role="alert" className="text-sm text-red-800">
          {error}
        </p>
      )}
      {secret && (
        <SecretOnce
          label={`New client secret${secret.graceUntil ? `; the old one works until ${secret.graceUntil}` : ''}`}
          value={secret.value}
          testId="new-client-secret"
        />
      )}
    </form>
  );
}

export function UserCreateForm() {
  const post = useAdminPost();
  const router = useRouter();
  const id = useId();
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<{ id: string; password: string | null } | null>(null);
  const submit = async (event: React.FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const r = await post('/api/admin/users', {
      email: String(form.get('email') ?? ''),
      name: String(form.get('name') ?? '') || undefined,
      roles: form.get('admin') === 'on' ? ['admin'] : [],
    });
    if (!r.ok) return setError(r.message);
    setError(null);
    setCreated({ id: (r.body.user as { id: string }).id, password: (r.body.password as string | null) ?? null });
    router.refresh();
  };
  if (created) {
    return (
      <div data-testid="user-created">
        {created.password && <SecretOnce label="One-time password (to be changed at first sign-in)" value={created.password} testId="created-user-password" />}
        <a href={`/admin/users/${created.id}`} className={`${primaryClass} mt-3`}>
          Open the user
        </a>
      </div>
    );
  }
  return (
    <form onSubmit={submit} className="grid max-w-xl gap-3">
      <div>
        <label htmlFor={`${id}-e`} className={labelClass}>
          Email
        </label>
        <input id={`${id}-e`} name="email" type="email" required className={inputClass} />
      </div>
      <div>
        <label htmlFor={`${id}-n`} className={labelClass}>
          Name
        </label>
        <input id={`${id}-n`} name="name" className={inputClass} />
      </div>
      <label className="inline-flex items-center gap-1.5 text-sm">
        <input type="checkbox" name="admin" />
        Administrator
      </label>
      {error && (
        <p role="alert" className="text-sm text-red-800" data-testid="form-error">
          {error}
        </p>
      )}
      <div>
        <button type="submit" className={primaryClass} data-testid="user-create-submit">
          Create user
        </button>
      </div>
    </form>
  );
}

export function UserEditForm({ user }: { user: { id: string; email: string; name: string | null; roles: string[] } }) {
  const post = useAdminPost();
  const router = useRouter();
  const id = useId();
  const [result, setResult] = useState<{ tone: 'ok' | 'error'; text: string } | null>(null);
  const submit = async (event: React.FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const r = await post(`/api/admin/users/${user.id}`, {
      email: String(form.get('email') ?? ''),
      name: String(form.get('name') ?? '') || null,
      roles: lines(String(form.get('roles') ?? '').replace(/,/g, ' ')),
    });
    setResult(r.ok ? { tone: 'ok', text: 'Saved.' } : { tone: 'error', text: r.message });
    if (r.ok) router.refresh();
  };
  return (
    <form onSubmit={submit} className="grid gap-3">
      <div>
        <label htmlFor={`${id}-e`} className={labelClass}>
          Email
        </label>
        <input id={`${id}-e`} name="email" type="email" defaultValue={user.email} className={inputClass} required />
      </div>
      <div>
        <label htmlFor={`${id}-n`} className={labelClass}>
          Name
        </label>
        <input id={`${id}-n`} name="name" defaultValue={user.name ?? ''} className={inputClass} />
      </div>
      <div>
        <label htmlFor={`${id}-r`} className={labelClass}>
          Roles (space separated)
        </label>
        <input id={`${id}-r`} name="roles" defaultValue={user.roles.join(' ')} className={inputClass} />
      </div>
      <div>
        <button type="submit" className={primaryClass} data-testid="user-save">
          Save
        </button>
      </div>
      <Result result={result} />
    </form>
  );
}
