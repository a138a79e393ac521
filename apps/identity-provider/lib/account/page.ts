import { headers } from 'next/headers';
import { getContainer } from '../http/next';
import { readBrowserSession } from '../oidc/session';

export type PageAccount =
  | { status: 'signed_in'; csrf: string; user: { id: string; email: string; name: string | null; isAdmin: boolean } }
  | { status: 'unauthenticated' }
  /** Signed in, but the forced password change comes first. */
  | { status: 'must_change_password' };

/** The signed-in user for the account pages (server components), from the browser's sealed session cookie. */
export async function accountForPage(): Promise<PageAccount> {
  const { provider } = await getContainer();
  const cookie = (await headers()).get('cookie') ?? '';
  const browser = await readBrowserSession(new Request('http://page.local/', { headers: { cookie } }), provider.settings);
  const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
  const user = session ? await provider.store.users.findById(session.userId) : null;
  if (!session || !user) return { status: 'unauthenticated' };
  if (user.mustChangePassword) return { status: 'must_change_password' };
  return { status: 'signed_in', csrf: browser.csrf, user: { id: user.id, email: user.email, name: user.name, isAdmin: user.roles.includes('admin') } };
}
