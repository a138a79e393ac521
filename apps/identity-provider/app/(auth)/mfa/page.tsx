import type { Metadata } from 'next';
import { first, InteractionExpired, type SearchParams } from '@/components/auth/form';
import { SecondFactorStep } from '@/components/auth/second-factor-step';
import { secondFactorForPage } from '@/lib/http/security-context';
import { isInteractionId } from '@/lib/oidc/session';

export const dynamic = 'force-dynamic';
export const metadata: Metadata = { title: 'Two-step verification · Identity provider' };

/** The second step of a sign-in, or a step-up (README "Second factors and passkeys"). */
export default async function SecondFactorPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const pending = await secondFactorForPage();
  if (!pending) return <InteractionExpired />;
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
