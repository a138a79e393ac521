import { adminCaller } from '../admin/route';
import { getContainer } from '../http/next';
import { cookieRequest } from '../http/page-context';

export type PageAdmin = { status: 'admin'; userId: string; email: string } | { status: 'unauthenticated' } | { status: 'forbidden' };

/** The admin check of the admin and analytics APIs (adminCaller), for server components. */
export async function adminForPage(): Promise<PageAdmin> {
  const caller = await adminCaller(await cookieRequest(), await getContainer());
  if (!(caller instanceof Response)) return { status: 'admin', userId: caller.userId, email: caller.email };
  return caller.status === 401 ? { status: 'unauthenticated' } : { status: 'forbidden' };
}
