import type { Metadata } from 'next';
import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { LogIn } from 'lucide-react';
import { AuthForm, ErrorNotice, Field, first, InteractionExpired, linkClass, PasswordField, SubmitButton, type SearchParams } from '@/components/auth/form';
import { PasskeySignIn } from '@/components/auth/passkey-sign-in';
import { getContainer } from '@/lib/http/next';
import { browserSessionForPage, interactionForPage } from '@/lib/http/page-context';
import { safeLocalPath } from '@/lib/oidc/endpoints/interaction';
import { isInteractionId, sessionCookieName } from '@/lib/oidc/session';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Sign in · Identity provider' };

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
      <InteractionExpired>
        It took too long, or it was already completed. Go back to the application you came from and sign in again from there.
      </InteractionExpired>
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

      {error === 'invalid_credentials' && <ErrorNotice testId="login-error">Email or password is incorrect, or the account is temporarily locked.</ErrorNotice>}

      <AuthForm action="/interaction/login" csrf={form.csrf} hidden={form.hidden}>
        <Field
          id="email"
          label="Email"
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
        />
        <PasswordField
          id="password"
          label="Password"
          name="password"
          autoComplete="current-password"
          autoFocus={!!form.loginHint}
          aria-invalid={error === 'invalid_credentials' || undefined}
        />
        <SubmitButton testId="login-submit" icon={LogIn}>
          Sign in
        </SubmitButton>
      </AuthForm>
      <PasskeySignIn csrf={form.csrf} interaction={form.hidden.interaction} returnTo={form.hidden.return_to} />
      <p className="mt-4 text-center text-sm">
        <a href="/forgot-password" className={linkClass} data-testid="forgot-password-link">
          Forgot password?
        </a>
      </p>
    </section>
  );
}
