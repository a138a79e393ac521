import type { Metadata } from 'next';
import { KeyRound } from 'lucide-react';
import { AuthForm, ErrorNotice, first, InteractionExpired, PasswordField, SubmitButton, UsernameHint, type SearchParams } from '@/components/auth/form';
import { getContainer } from '@/lib/http/next';
import { browserSessionForPage, cookieRequest, interactionForPage } from '@/lib/http/page-context';
import { currentPasswordRequired, safeLocalPath } from '@/lib/oidc/endpoints/interaction';
import { isInteractionId } from '@/lib/oidc/session';
import { MAX_PASSWORD_CHARACTERS } from '@/lib/security/password-policy';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Choose a new password · Identity provider' };

const errors = (minLength: number): Record<string, string> => ({
  current: 'The current password is incorrect.',
  length: `The new password must be at least ${minLength} and at most ${MAX_PASSWORD_CHARACTERS} characters long.`,
  weak: 'This password is too easy to guess (it is common, or made of your name or address). A few unrelated words make a strong, memorable password.',
  mismatch: 'The two passwords do not match. Type the same new password twice.',
  reused: 'The new password must differ from the current password.',
});

export default async function PasswordPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const interactionId = first(params.interaction) ?? '';
  const error = first(params.error);
  const interaction = isInteractionId(interactionId) ? await interactionForPage(interactionId) : null;
  // The change applies to the signed-in user even when the pending request itself is gone.
  const session = interaction?.user ? null : await browserSessionForPage();
  const user = interaction?.user ?? session?.user ?? null;
  const csrf = interaction?.csrf ?? session?.csrf ?? '';
  // direct sign-in (admin pages): where to go once the password is changed
  const { provider } = await getContainer();
  const returnTo = interaction ? null : safeLocalPath(first(params.return_to), provider.settings.issuer);
  // only the forced change right after a fresh login may skip it
  const askCurrent = await currentPasswordRequired(await cookieRequest(), provider);

  if (!user) return <InteractionExpired />;

  const MIN_LENGTH = provider.settings.passwordMinLength;
  const message = error ? errors(MIN_LENGTH)[error] : undefined;
  return (
    <section aria-labelledby="password-title">
      <KeyRound aria-hidden className="h-8 w-8 text-brand-600" />
      <h1 id="password-title" className="mt-3 text-xl font-semibold tracking-tight">
        Choose a new password
      </h1>
      <p className="mt-2 text-sm text-slate-600">
        Before you continue, replace the password of{' '}
        <strong className="font-semibold text-slate-900 break-words" data-testid="password-user">
          {user.email}
        </strong>
        .
        {interaction ? (
          <>
            {' '}
            You will then return to <strong className="font-semibold text-slate-900">{interaction.client.name}</strong>.
          </>
        ) : null}
      </p>

      {message && (
        <ErrorNotice testId="password-error" error={error}>
          {message}
        </ErrorNotice>
      )}

      <AuthForm
        action="/interaction/password"
        csrf={csrf}
        hidden={{ interaction: interaction ? interactionId : '', ...(returnTo ? { return_to: returnTo } : {}) }}
      >
        <UsernameHint email={user.email} />
        {askCurrent && (
          <PasswordField
            id="current_password"
            label="Current password"
            name="current_password"
            autoComplete="current-password"
            autoFocus
            aria-invalid={error === 'current' || undefined}
            data-testid="current-password"
          />
        )}
        <PasswordField
          id="new_password"
          label="New password"
          name="new_password"
          autoComplete="new-password"
          minLength={MIN_LENGTH}
          autoFocus={!askCurrent}
          hint={`At least ${MIN_LENGTH} characters. A few unrelated words make a strong, memorable password.`}
          aria-invalid={error === 'length' || error === 'weak' || error === 'reused' || undefined}
        />
        <PasswordField
          id="confirm_password"
          label="Confirm new password"
          name="confirm_password"
          autoComplete="new-password"
          minLength={MIN_LENGTH}
          aria-invalid={error === 'mismatch' || undefined}
        />
        <SubmitButton testId="password-submit">Change password and continue</SubmitButton>
      </AuthForm>
    </section>
  );
}
