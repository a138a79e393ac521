import { requireAdmin } from '../http/admin';
import { cookieRequest } from '../http/page-context';

export type PageAdmin = { status: 'admin'; userId: string; email: string } | { status: 'unauthenticated' } | { status: 'forbidden' };

/** The admin check of the analytics APIs (requireAdmin), for server components. */
export async function adminForPage(): Promise<PageAdmin> {
  const check = await requireAdmin(await cookieRequest());
  if (check.ok) return { status: 'admin', userId: check.userId, email: check.email };
  return check.status === 401 ? { status: 'unauthenticated' } : { status: 'forbidden' };
}
