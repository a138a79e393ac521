import { headers } from 'next/headers';
import { getContainer } from './next';
import { describeInteraction } from '../oidc/endpoints/authorize';
import { readBrowserSession } from '../oidc/session';

/** The browser's request as the core reads it (cookies only), for server components. */
async function cookieRequest(): Promise<Request> {
  const cookie = (await headers()).get('cookie') ?? '';
  return new Request('http://page.local/', { headers: { cookie } });
}

/** What the login, consent and password pages show about the pending request; null when expired. */
export async function interactionForPage(interactionId: string) {
  const { provider } = await getContainer();
  return describeInteraction(await cookieRequest(), interactionId, provider);
}

/** CSRF token and signed-in user for pages without a pending request (logout). */
export async function browserSessionForPage(): Promise<{ csrf: string; user: { email: string; name: string | null } | null; pendingLogout: boolean }> {
  const { provider } = await getContainer();
  const browser = await readBrowserSession(await cookieRequest(), provider.settings);
  const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
  const user = session ? await provider.store.users.findById(session.userId) : null;
  return { csrf: browser.csrf, user: user ? { email: user.email, name: user.name } : null, pendingLogout: !!browser.logout };
}

/** The sealed browser session as the core reads it (CSRF token, recovery tokens from mailed links). */
export async function browserForPage() {
  const { provider } = await getContainer();
  return readBrowserSession(await cookieRequest(), provider.settings);
}
