import type { Metadata } from 'next';
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { CircleAlert, Clock, LogIn } from 'lucide-react';
import { PasskeySignIn } from '@/components/auth/passkey-sign-in';
import { getContainer } from '@/lib/http/next';
import { browserSessionForPage, interactionForPage } from '@/lib/http/page-context';
import { safeLocalPath } from '@/lib/oidc/endpoints/interaction';
import { isInteractionId, sessionCookieName } from '@/lib/oidc/session';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Sign in · Identity provider' };

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

const label = 'block text-sm font-medium text-slate-700';
const input =
  'mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-base text-slate-900 shadow-sm placeholder:text-slate-400 ' +
  'focus:border-brand-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-1 sm:text-sm';
const primary =
  'inline-flex w-full items-center justify-center gap-2 rounded-md bg-brand-600 px-4 py-2.5 text-sm font-semibold text-white shadow-sm ' +
  'hover:bg-brand-700 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2';

export default async function LoginPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const interactionId = first(params.interaction) ?? '';
  const error = first(params.error);
  const interaction = isInteractionId(interactionId) ? await interactionForPage(interactionId) : null;
  const { settings } = (await getContainer()).provider;
  // direct sign-in (admin pages, via /interaction/start): no OAuth request, back to a local path afterwards
  const returnTo = interaction ? null : safeLocalPath(first(params.return_to), settings.issuer);

  let form: { csrf: string; loginHint?: string; clientName: string | null; hidden: Record<string, string> } | null = null;
  if (interaction) {
    form = { csrf: interaction.csrf, loginHint: interaction.loginHint, clientName: interaction.client.name, hidden: { interaction: interactionId } };
  } else if (returnTo) {
    // the CSRF token must come from a sealed cookie the browser holds; /interaction/start sets one
    if (!(await cookies()).has(sessionCookieName(settings))) redirect(`/interaction/start?return_to=${encodeURIComponent(returnTo)}`);
    form = { csrf: (await browserSessionForPage()).csrf, clientName: null, hidden: { return_to: returnTo } };
  }

  if (!form) {
    return (
      <section aria-labelledby="expired-title" data-testid="interaction-expired">
        <Clock aria-hidden className="h-8 w-8 text-slate-400" />
        <h1 id="expired-title" className="mt-3 text-xl font-semibold tracking-tight">
          This sign-in request has expired
        </h1>
        <p className="mt-2 text-sm text-slate-600">
          It took too long, or it was already completed. Go back to the application you came from and sign in again from there.
        </p>
      </section>
    );
  }

  return (
    <section aria-labelledby="login-title">
      <h1 id="login-title" className="text-xl font-semibold tracking-tight">
        Sign in
      </h1>
      <p className="mt-1 text-sm text-slate-600">
        {form.clientName ? (
          <>
            to continue to{' '}
            <strong className="font-semibold text-slate-900" data-testid="client-name">
              {form.clientName}
            </strong>
          </>
        ) : (
          'to continue to your account'
        )}
      </p>

      {error === 'invalid_credentials' && (
        <div role="alert" data-testid="login-error" className="mt-5 flex gap-2 rounded-md border border-red-200 bg-red-50 px-3 py-2.5 text-sm text-red-800">
          <CircleAlert aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <p>Email or password is incorrect, or the account is temporarily locked.</p>
        </div>
      )}

      <form method="post" action="/interaction/login" className="mt-6 space-y-4">
        {Object.entries(form.hidden).map(([name, value]) => (
          <input key={name} type="hidden" name={name} value={value} />
        ))}
        <input type="hidden" name="csrf" value={form.csrf} />
        <div>
          <label htmlFor="email" className={label}>
            Email
          </label>
          <input
            id="email"
            name="email"
            type="email"
            autoComplete="username webauthn"
            inputMode="email"
            autoCapitalize="none"
            spellCheck={false}
            required
            maxLength={320}
            defaultValue={form.loginHint ?? ''}
            autoFocus={!form.loginHint}
            aria-invalid={error === 'invalid_credentials' || undefined}
            className={input}
          />
        </div>
        <div>
          <label htmlFor="password" className={label}>
            Password
          </label>
          <input
            id="password"
            name="password"
            type="password"
            autoComplete="current-password"
            required
            maxLength={256}
            autoFocus={!!form.loginHint}
            aria-invalid={error === 'invalid_credentials' || undefined}
            className={input}
          />
        </div>
        <button type="submit" className={primary} data-testid="login-submit">
          <LogIn aria-hidden className="h-4 w-4" />
          Sign in
        </button>
      </form>
      <PasskeySignIn csrf={form.csrf} interaction={form.hidden.interaction} returnTo={form.hidden.return_to} />
      <p className="mt-4 text-center text-sm">
        <a href="/forgot-password" className="font-medium text-brand-700 underline-offset-2 hover:underline" data-testid="forgot-password-link">
          Forgot password?
        </a>
      </p>
    </section>
  );
}
