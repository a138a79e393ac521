import { headers } from 'next/headers';
import { getContainer } from './next';
import { describeInteraction } from '../oidc/endpoints/authorize';
import { readBrowserSession } from '../oidc/session';
import { signedInAccount, type BrowserAccount } from './signed-in';

/** The browser's request as the core reads it (cookies only), for server components. */
export async function cookieRequest(): Promise<Request> {
  const cookie = (await headers()).get('cookie') ?? '';
  return new Request('http://page.local/', { headers: { cookie } });
}

/** signedInAccount() for server components. */
export async function signedInForPage(): Promise<BrowserAccount> {
  const { provider } = await getContainer();
  return signedInAccount(await cookieRequest(), provider);
}

/** What the login, consent and password pages show about the pending request; null when expired. */
export async function interactionForPage(interactionId: string) {
  const { provider } = await getContainer();
  return describeInteraction(await cookieRequest(), interactionId, provider);
}

/** CSRF token and signed-in user for pages without a pending request (logout). */
export async function browserSessionForPage(): Promise<{ csrf: string; user: { email: string; name: string | null } | null; pendingLogout: boolean }> {
  const { browser, user } = await signedInForPage();
  return { csrf: browser.csrf, user: user ? { email: user.email, name: user.name } : null, pendingLogout: !!browser.logout };
}

/** The sealed browser session as the core reads it (CSRF token, recovery tokens from mailed links). */
export async function browserForPage() {
  const { provider } = await getContainer();
  return readBrowserSession(await cookieRequest(), provider.settings);
}
