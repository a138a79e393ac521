import type { Metadata } from 'next';
import { headers } from 'next/headers';
import { CircleAlert, Clock, KeyRound } from 'lucide-react';
import { getContainer } from '@/lib/http/next';
import { browserSessionForPage, interactionForPage } from '@/lib/http/page-context';
import { currentPasswordRequired, safeLocalPath } from '@/lib/oidc/endpoints/interaction';
import { isInteractionId } from '@/lib/oidc/session';
import { MAX_PASSWORD_CHARACTERS } from '@/lib/security/password-policy';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Choose a new password · Identity provider' };

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

const errors = (minLength: number): Record<string, string> => ({
  current: 'The current password is incorrect.',
  length: `The new password must be at least ${minLength} and at most ${MAX_PASSWORD_CHARACTERS} characters long.`,
  weak: 'This password is too easy to guess (it is common, or made of your name or address). A few unrelated words make a strong, memorable password.',
  mismatch: 'The two passwords do not match. Type the same new password twice.',
  reused: 'The new password must differ from the current password.',
});

const label = 'block text-sm font-medium text-slate-700';
const input =
  'mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-base text-slate-900 shadow-sm ' +
  'focus:border-brand-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-1 sm:text-sm';
const primary =
  'inline-flex w-full items-center justify-center gap-2 rounded-md bg-brand-600 px-4 py-2.5 text-sm font-semibold text-white shadow-sm ' +
  'hover:bg-brand-700 focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-2';

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
  const askCurrent = await currentPasswordRequired(new Request('http://page.local/', { headers: { cookie: (await headers()).get('cookie') ?? '' } }), provider);

  if (!user) {
    return (
      <section aria-labelledby="expired-title" data-testid="interaction-expired">
        <Clock aria-hidden className="h-8 w-8 text-slate-400" />
        <h1 id="expired-title" className="mt-3 text-xl font-semibold tracking-tight">
          This sign-in request has expired
        </h1>
        <p className="mt-2 text-sm text-slate-600">Go back to the application you came from and sign in again from there.</p>
      </section>
    );
  }

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
        <div
          role="alert"
          data-testid="password-error"
          data-error={error}
          className="mt-5 flex gap-2 rounded-md border border-red-200 bg-red-50 px-3 py-2.5 text-sm text-red-800"
        >
          <CircleAlert aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <p>{message}</p>
        </div>
      )}

      <form method="post" action="/interaction/password" className="mt-6 space-y-4">
        <input type="hidden" name="interaction" value={interaction ? interactionId : ''} />
        {returnTo && <input type="hidden" name="return_to" value={returnTo} />}
        <input type="hidden" name="csrf" value={csrf} />
        {/* lets password managers attach the new password to the right account */}
        <input type="email" name="username" autoComplete="username" value={user.email} readOnly hidden />
        {askCurrent && (
          <div>
            <label htmlFor="current_password" className={label}>
              Current password
            </label>
            <input
              id="current_password"
              name="current_password"
              type="password"
              autoComplete="current-password"
              required
              maxLength={256}
              autoFocus
              aria-invalid={error === 'current' || undefined}
              className={input}
              data-testid="current-password"
            />
          </div>
        )}
        <div>
          <label htmlFor="new_password" className={label}>
            New password
          </label>
          <input
            id="new_password"
            name="new_password"
            type="password"
            autoComplete="new-password"
            required
            minLength={MIN_LENGTH}
            maxLength={256}
            autoFocus={!askCurrent}
            aria-describedby="new_password_hint"
            aria-invalid={error === 'length' || error === 'weak' || error === 'reused' || undefined}
            className={input}
          />
          <p id="new_password_hint" className="mt-1 text-xs text-slate-500">
            At least {MIN_LENGTH} characters. A few unrelated words make a strong, memorable password.
          </p>
        </div>
        <div>
          <label htmlFor="confirm_password" className={label}>
            Confirm new password
          </label>
          <input
            id="confirm_password"
            name="confirm_password"
            type="password"
            autoComplete="new-password"
            required
            minLength={MIN_LENGTH}
            maxLength={256}
            aria-invalid={error === 'mismatch' || undefined}
            className={input}
          />
        </div>
        <button type="submit" className={primary} data-testid="password-submit">
          Change password and continue
        </button>
      </form>
    </section>
  );
}
