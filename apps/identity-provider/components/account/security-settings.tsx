'use client';

import { useState } from 'react';
import { useRouter } from 'next/navigation';
import { CircleAlert, KeyRound, Pencil, Plus, ShieldCheck, Smartphone, Trash2 } from 'lucide-react';
import { postJson, registerPasskey } from '@/components/auth/webauthn-client';

export interface SecurityState {
  csrf: string;
  email: string;
  mayChange: boolean;
  required: boolean;
  graceUntil: string | null;
  totp: boolean;
  recoveryCodesLeft: number;
  passkeys: { id: string; name: string; createdAt: string; lastUsedAt: string | null; synced: boolean }[];
}

const focus = 'focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2';
const primary = `inline-flex items-center justify-center gap-2 rounded-md bg-brand-600 px-3 py-2 text-sm font-semibold text-white shadow-sm hover:bg-brand-700 disabled:opacity-60 ${focus}`;
const secondary = `inline-flex items-center justify-center gap-2 rounded-md border border-slate-300 bg-white px-3 py-2 text-sm font-semibold text-slate-800 shadow-sm hover:bg-slate-50 disabled:opacity-60 ${focus}`;
const field =
  'block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm text-slate-900 shadow-sm focus:border-brand-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500';
const date = (iso: string) => new Date(iso).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

function Panel({ title, icon, children }: { title: string; icon: React.ReactNode; children: React.ReactNode }) {
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4 sm:p-5">
      <h2 className="flex items-center gap-2 text-sm font-semibold text-slate-800">
        {icon}
        {title}
      </h2>
      <div className="mt-3 space-y-3 text-sm text-slate-700">{children}</div>
    </section>
  );
}

/** Recovery codes are shown once, right after they were made. */
function RecoveryCodes({ codes }: { codes: string[] }) {
  return (
    <div className="rounded-md border border-amber-300 bg-amber-50 p-3" data-testid="recovery-codes">
      <p className="font-medium text-amber-900">Save these recovery codes now. Each works once; they will not be shown again.</p>
      <ul className="mt-2 grid grid-cols-2 gap-1 font-mono text-sm text-slate-900">
        {codes.map((code) => (
          <li key={code} data-testid="recovery-code">
            {code}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** /account/security: passkeys, the authenticator app (TOTP) and recovery codes of the signed-in user. */
export function SecuritySettings({ state, returnTo }: { state: SecurityState; returnTo: string | null }) {
  const router = useRouter();
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [codes, setCodes] = useState<string[] | null>(null);
  const [setup, setSetup] = useState<{ secret: string; qr: string } | null>(null);
  const [totpCode, setTotpCode] = useState('');
  const [newName, setNewName] = useState('');
  const [renaming, setRenaming] = useState<{ id: string; name: string } | null>(null);
  const enrolled = state.totp || state.passkeys.length > 0;

  async function run<T>(action: () => Promise<{ ok: true; data: T } | { ok: false; message: string }>, then?: (data: T) => void) {
    setBusy(true);
    setError(null);
    const result = await action();
    setBusy(false);
    if (!result.ok) return setError(result.message);
    then?.(result.data);
    router.refresh();
  }

  return (
    <div className="space-y-4">
      <p className="text-sm text-slate-600" data-testid="mfa-status">
        Two-step verification is <strong className="font-semibold text-slate-900">{enrolled ? 'on' : 'off'}</strong> for {state.email}
        {enrolled ? ': every password sign-in also asks for a passkey or a code.' : '.'}
      </p>
      {state.required && !enrolled && (
        <div role="status" data-testid="mfa-required" className="rounded-md border border-amber-300 bg-amber-50 px-3 py-2.5 text-sm text-amber-900">
          Your account needs a second factor. {state.graceUntil ? `Set one up before ${date(state.graceUntil)}.` : 'Set one up to continue.'}
        </div>
      )}
      {!state.mayChange && (
        <div role="status" className="rounded-md border border-slate-200 bg-slate-50 px-3 py-2.5 text-sm">
          To change these settings,{' '}
          <a className="font-semibold text-brand-700 underline" href="/interaction/step-up?return_to=%2Faccount%2Fsecurity" data-testid="security-step-up">
            confirm it’s you
          </a>{' '}
          first.
        </div>
      )}
      {error && (
        <div role="alert" data-testid="security-error" className="flex gap-2 rounded-md border border-red-200 bg-red-50 px-3 py-2.5 text-sm text-red-800">
          <CircleAlert aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <p>{error}</p>
        </div>
      )}
      {codes && <RecoveryCodes codes={codes} />}

      <Panel title="Passkeys" icon={<KeyRound aria-hidden className="h-4 w-4 text-brand-600" />}>
        {state.passkeys.length === 0 && <p>No passkeys yet. A passkey signs you in with your device’s screen lock, without a password.</p>}
        <ul className="divide-y divide-slate-100" data-testid="passkey-list">
          {state.passkeys.map((passkey) => (
            <li key={passkey.id} className="flex flex-wrap items-center gap-2 py-2" data-testid="passkey-item">
              {renaming?.id === passkey.id ? (
                <form
                  className="flex flex-1 gap-2"
                  onSubmit={(event) => {
                    event.preventDefault();
                    void run(
                      () => postJson('/interaction/security/passkeys/rename', { csrf: state.csrf, id: passkey.id, name: renaming.name }),
                      () => setRenaming(null),
                    );
                  }}
                >
                  <label className="sr-only" htmlFor={`rename-${passkey.id}`}>
                    Passkey name
                  </label>
                  <input
                    id={`rename-${passkey.id}`}
                    className={field}
                    maxLength={64}
                    required
                    value={renaming.name}
                    onChange={(e) => setRenaming({ id: passkey.id, name: e.target.value })}
                    data-testid="passkey-rename-input"
                  />
                  <button type="submit" className={secondary} disabled={busy} data-testid="passkey-rename-save">
                    Save
                  </button>
                </form>
              ) : (
                <>
                  <div className="min-w-0 flex-1">
                    <p className="truncate font-medium text-slate-900" data-testid="passkey-name">
                      {passkey.name}
                    </p>
                    <p className="text-xs text-slate-500">
                      Added {date(passkey.createdAt)}
                      {passkey.lastUsedAt ? ` · last used ${date(passkey.lastUsedAt)}` : ''}
                      {passkey.synced ? ' · synced' : ''}
                    </p>
                  </div>
                  <button
                    type="button"
                    className={secondary}
                    onClick={() => setRenaming({ id: passkey.id, name: passkey.name })}
                    aria-label={`Rename ${passkey.name}`}
                    data-testid="passkey-rename"
                  >
                    <Pencil aria-hidden className="h-4 w-4" />
                  </button>
                  <button
                    type="button"
                    className={secondary}
                    disabled={busy || !state.mayChange}
                    aria-label={`Remove ${passkey.name}`}
                    data-testid="passkey-remove"
                    onClick={() => void run(() => postJson('/interaction/security/passkeys/remove', { csrf: state.csrf, id: passkey.id }))}
                  >
                    <Trash2 aria-hidden className="h-4 w-4" />
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
        <form
          className="flex flex-wrap gap-2"
          onSubmit={(event) => {
            event.preventDefault();
            void run(
              async () => {
                const result = await registerPasskey(state.csrf, newName.trim() || undefined);
                return result.ok ? { ok: true as const, data: result.recoveryCodes } : { ok: false as const, message: result.error };
              },
              (recovery) => {
                setNewName('');
                if (recovery) setCodes(recovery);
              },
            );
          }}
        >
          <label className="sr-only" htmlFor="passkey-name">
            Name of the new passkey
          </label>
          <input
            id="passkey-name"
            className={`${field} flex-1`}
            maxLength={64}
            placeholder="Name (optional), e.g. Work laptop"
            value={newName}
            onChange={(e) => setNewName(e.target.value)}
          />
          <button type="submit" className={primary} disabled={busy || !state.mayChange} data-testid="passkey-add">
            <Plus aria-hidden className="h-4 w-4" />
            Add a passkey
          </button>
        </form>
      </Panel>

      <Panel title="Authenticator app" icon={<Smartphone aria-hidden className="h-4 w-4 text-brand-600" />}>
        {state.totp ? (
          <div className="flex items-center justify-between gap-2">
            <p data-testid="totp-status">An authenticator app is set up.</p>
            <button
              type="button"
              className={secondary}
              disabled={busy || !state.mayChange}
              data-testid="totp-remove"
              onClick={() => void run(() => postJson('/interaction/security/totp/remove', { csrf: state.csrf }))}
            >
              Remove
            </button>
          </div>
        ) : setup ? (
          <form
            className="space-y-3"
            onSubmit={(event) => {
              event.preventDefault();
              void run(
                () => postJson<{ recovery_codes: string[] | null }>('/interaction/security/totp/confirm', { csrf: state.csrf, code: totpCode }),
                (data) => {
                  setSetup(null);
                  setTotpCode('');
                  if (data.recovery_codes) setCodes(data.recovery_codes);
                },
              );
            }}
          >
            <p>Scan this code with your authenticator app, then enter the code it shows.</p>
            <img
              src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(setup.qr)}`}
              alt="QR code for your authenticator app"
              width={192}
              height={192}
              className="rounded border border-slate-200"
              data-testid="totp-qr"
            />
            <p className="text-xs text-slate-500">
              Or enter this key by hand:{' '}
              <code className="break-all font-mono text-slate-800" data-testid="totp-secret">
                {setup.secret}
              </code>
            </p>
            <label htmlFor="totp-code" className="block font-medium">
              Code from the app
            </label>
            <input
              id="totp-code"
              className={field}
              inputMode="numeric"
              autoComplete="one-time-code"
              maxLength={8}
              required
              value={totpCode}
              onChange={(e) => setTotpCode(e.target.value)}
              data-testid="totp-code"
            />
            <button type="submit" className={primary} disabled={busy} data-testid="totp-confirm">
              Turn on
            </button>
          </form>
        ) : (
          <div className="flex items-center justify-between gap-2">
            <p>Use codes from an app such as a password manager or an authenticator.</p>
            <button
              type="button"
              className={secondary}
              disabled={busy || !state.mayChange}
              data-testid="totp-setup"
              onClick={() =>
                void run(
                  () => postJson<{ secret: string; qr_svg: string }>('/interaction/security/totp/begin', { csrf: state.csrf }),
                  (data) => setSetup({ secret: data.secret, qr: data.qr_svg }),
                )
              }
            >
              Set up
            </button>
          </div>
        )}
      </Panel>

      <Panel title="Recovery codes" icon={<ShieldCheck aria-hidden className="h-4 w-4 text-brand-600" />}>
        <div className="flex items-center justify-between gap-2">
          <p data-testid="recovery-left">
            {enrolled ? `${state.recoveryCodesLeft} unused recovery codes.` : 'Recovery codes come with your first passkey or authenticator app.'}
          </p>
          {enrolled && (
            <button
              type="button"
              className={secondary}
              disabled={busy || !state.mayChange}
              data-testid="recovery-regenerate"
              onClick={() =>
                void run(
                  () => postJson<{ recovery_codes: string[] }>('/interaction/security/recovery-codes', { csrf: state.csrf }),
                  (data) => setCodes(data.recovery_codes),
                )
              }
            >
              New codes
            </button>
          )}
        </div>
      </Panel>

      {returnTo && (
        <a href={returnTo} className={`${primary} w-full`} data-testid="security-continue">
          {enrolled || !state.required || state.graceUntil ? (enrolled ? 'Continue' : 'Skip for now') : 'Continue'}
        </a>
      )}
    </div>
  );
}
