import { getContainer } from './next';
import type { Provider } from '../oidc/ports';
import { readBrowserSession } from '../oidc/session';

export type AdminCheck = { ok: true; userId: string; email: string } | { ok: false; status: 401 | 403; response: Response };

/**
 * Admin APIs: the caller must have an active provider session (the sealed cookie's sid) whose user has
 * the admin role and no pending forced password change. 401 without a session, 403 otherwise.
 */
export async function requireAdmin(request: Request, provider?: Provider): Promise<AdminCheck> {
  const p = provider ?? (await getContainer()).provider;
  const browser = await readBrowserSession(request, p.settings);
  const session = browser.sid ? await p.store.sessions.findActive(browser.sid) : null;
  const deny = (status: 401 | 403, error: string): AdminCheck => ({
    ok: false,
    status,
    response: Response.json({ error }, { status, headers: { 'Cache-Control': 'no-store' } }),
  });
  if (!session) return deny(401, 'unauthenticated');
  const user = await p.store.users.findById(session.userId);
  if (!user) return deny(401, 'unauthenticated');
  if (!user.roles.includes('admin') || user.mustChangePassword) return deny(403, 'forbidden');
  return { ok: true, userId: user.id, email: user.email };
}
