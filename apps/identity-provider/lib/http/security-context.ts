import { getContainer } from './next';
import { mayChangeFactors, describeSecondFactor } from '../oidc/endpoints/second-factor';
import { secondFactorPolicy } from '../oidc/second-factor';
import { cookieRequest } from './page-context';
import { signedInAccount } from './signed-in';

/** What the second-factor page shows; null when no sign-in is waiting for one. */
export async function secondFactorForPage() {
  const { provider } = await getContainer();
  return describeSecondFactor(await cookieRequest(), provider);
}

/** The signed-in user's factors for /account/security; null when nobody is signed in. */
export async function securityForPage() {
  const { provider } = await getContainer();
  const { browser, session, user } = await signedInAccount(await cookieRequest(), provider);
  if (!session) return null;
  const [policy, passkeys, mayChange] = await Promise.all([
    secondFactorPolicy(provider, user, null),
    provider.store.authenticators.listPasskeys(user.id),
    mayChangeFactors(provider, session),
  ]);
  return {
    csrf: browser.csrf,
    email: user.email,
    acr: session.acr,
    mayChange,
    required: policy.required,
    graceUntil: policy.graceUntil?.toISOString() ?? null,
    totp: policy.factors.totp,
    recoveryCodesLeft: policy.factors.recoveryCodesLeft,
    passkeys: passkeys.map((p) => ({
      id: p.id,
      name: p.name,
      createdAt: p.createdAt.toISOString(),
      lastUsedAt: p.lastUsedAt?.toISOString() ?? null,
      synced: p.deviceType === 'multiDevice',
    })),
  };
}
