import { headers } from 'next/headers';
import { requireAdmin } from '../http/admin';

export type PageAdmin = { status: 'admin'; userId: string; email: string } | { status: 'unauthenticated' } | { status: 'forbidden' };

/**
 * The admin check of the analytics APIs (requireAdmin), for server components: the browser's cookies are
 * handed to it in a Request of their own, as lib/http/page-context.ts does for the sign-in pages.
 */
export async function adminForPage(): Promise<PageAdmin> {
  const cookie = (await headers()).get('cookie') ?? '';
  const check = await requireAdmin(new Request('http://page.local/', { headers: { cookie } }));
  if (check.ok) return { status: 'admin', userId: check.userId, email: check.email };
  return check.status === 401 ? { status: 'unauthenticated' } : { status: 'forbidden' };
}
