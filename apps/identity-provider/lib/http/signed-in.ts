import type { Session, User } from '@idp/database-identity';
import type { Provider } from '../oidc/ports';
import { readBrowserSession, type BrowserSession } from '../oidc/session';

/** The browser's sealed session cookie and, when it names an active provider session of an existing user, both. */
export type BrowserAccount = { browser: BrowserSession } & ({ session: Session; user: User } | { session: null; user: null });

/**
 * Who is signed in on this browser: the sealed cookie's sid, its active session, that session's user. The
 * one place that lookup is written; pages, the account API and the admin APIs each decide what a missing
 * session or a user's state (admin role, forced password change) means for them.
 */
export async function signedInAccount(request: Request, provider: Provider): Promise<BrowserAccount> {
  const browser = await readBrowserSession(request, provider.settings);
  const session = browser.sid ? await provider.store.sessions.findActive(browser.sid) : null;
  const user = session ? await provider.store.users.findById(session.userId) : null;
  return session && user ? { browser, session, user } : { browser, session: null, user: null };
}
