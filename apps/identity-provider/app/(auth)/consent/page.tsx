import type { Metadata } from 'next';
import { BadgeCheck, Mail, RefreshCw, UserRound } from 'lucide-react';
import { AuthForm, first, InteractionExpired, primaryButtonClass, SubmitButton, secondaryButtonClass, type SearchParams } from '@/components/auth/form';
import { interactionForPage } from '@/lib/http/page-context';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Allow access? · Identity provider' };

// newInteractionId(): 12 random bytes, base64url. Names of Object.prototype members ("__proto__",
// "__defineGetter__") would be found in the session's interactions object, so they are refused here.
const INTERACTION_ID = /^[A-Za-z0-9_-]{16}$/;
const validInteractionId = (id: string) => INTERACTION_ID.test(id) && !(id in Object.prototype);

/** Each scope in plain words, in the order people read them. */
function describeScope(scope: string, app: string): { icon: typeof UserRound; text: string } {
  switch (scope) {
    case 'openid':
      return { icon: BadgeCheck, text: 'Confirm who you are' };
    case 'profile':
      return { icon: UserRound, text: 'Your name and profile details' };
    case 'email':
      return { icon: Mail, text: 'Your email address' };
    case 'offline_access':
      return { icon: RefreshCw, text: `Stay signed in to ${app} when you're not using it` };
    default:
      return { icon: BadgeCheck, text: `Access: ${scope}` };
  }
}

const ORDER = ['openid', 'profile', 'email', 'offline_access'];

export default async function ConsentPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const interactionId = first(params.interaction) ?? '';
  const interaction = validInteractionId(interactionId) ? await interactionForPage(interactionId) : null;

  if (!interaction || !interaction.user) return <InteractionExpired />;

  const app = interaction.client.name;
  const scopes = [...new Set(interaction.scopes)].sort((a, b) => (ORDER.indexOf(a) + 1 || 99) - (ORDER.indexOf(b) + 1 || 99));

  return (
    <section aria-labelledby="consent-title">
      <h1 id="consent-title" className="text-xl font-semibold tracking-tight">
        <span data-testid="client-name">{app}</span> wants to access your account
      </h1>
      <p className="mt-2 text-sm text-slate-600">
        Signed in as{' '}
        <strong className="font-semibold text-slate-900 break-words" data-testid="consent-user">
          {interaction.user.email}
        </strong>
      </p>

      <h2 className="mt-6 text-sm font-medium text-slate-700">This will allow {app} to:</h2>
      <ul className="mt-3 space-y-2" data-testid="consent-scopes">
        {scopes.map((scope) => {
          const { icon: Icon, text } = describeScope(scope, app);
          return (
            <li key={scope} data-scope={scope} className="flex items-start gap-3 rounded-md border border-slate-200 px-3 py-2.5 text-sm">
              <Icon aria-hidden className="mt-0.5 h-4 w-4 shrink-0 text-brand-600" />
              <span>{text}</span>
            </li>
          );
        })}
      </ul>

      <p className="mt-5 text-xs text-slate-500">
        {app} never sees your password. Choosing Deny sends you back to {app} without sharing anything.
      </p>

      <AuthForm
        action="/interaction/consent"
        csrf={interaction.csrf}
        hidden={{ interaction: interactionId }}
        className="mt-6 flex flex-col-reverse gap-3 sm:flex-row sm:justify-end"
      >
        <SubmitButton name="decision" value="deny" testId="consent-deny" className={`${secondaryButtonClass} sm:w-auto`}>
          Deny
        </SubmitButton>
        <SubmitButton name="decision" value="allow" testId="consent-allow" className={`${primaryButtonClass} sm:w-auto`}>
          Allow
        </SubmitButton>
      </AuthForm>
    </section>
  );
}
