import type { Metadata } from 'next';
import { Clock } from 'lucide-react';
import { SecondFactorStep } from '@/components/auth/second-factor-step';
import { secondFactorForPage } from '@/lib/http/security-context';
import { isInteractionId } from '@/lib/oidc/session';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Two-step verification · Identity provider' };

type SearchParams = Promise<Record<string, string | string[] | undefined>>;
const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** The second step of a sign-in, or a step-up (README "Second factors and passkeys"). */
export default async function SecondFactorPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const pending = await secondFactorForPage();
  if (!pending) {
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
  const interaction = first(params.interaction);
  const hidden: Record<string, string> = interaction && isInteractionId(interaction) ? { interaction } : {};
  const error = first(params.error);
  return (
    <SecondFactorStep
      csrf={pending.csrf}
      email={pending.email}
      hidden={hidden}
      codes={pending.need === 'mfa' && (pending.totp || pending.recoveryCodes > 0)}
      passkeys={pending.passkeys > 0}
      error={error === 'invalid_code' || error === 'passkey_required' ? error : undefined}
      stepUp={pending.stepUp}
    />
  );
}
