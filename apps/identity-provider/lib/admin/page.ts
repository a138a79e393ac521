import { forbidden, redirect } from 'next/navigation';
import { headers } from 'next/headers';
import { getContainer } from '../http/next';
import { adminForPage } from '../analytics/page-auth';
import { adminService } from './service';

/**
 * For the admin pages (server components): the same service layer the API uses, for the signed-in
 * administrator. The layout checks too; this makes each page safe on its own (a page's data is never
 * loaded for anyone else).
 */
export async function adminPage() {
  const admin = await adminForPage();
  if (admin.status === 'unauthenticated') redirect('/interaction/start?return_to=/admin');
  if (admin.status === 'forbidden') forbidden();
  const container = await getContainer();
  const h = await headers();
  return { admin, container, service: adminService(container, { id: admin.userId, userAgent: h.get('user-agent')?.slice(0, 512) ?? null }) };
}

type SearchParams = Promise<Record<string, string | string[] | undefined>>;

/** Search params as single strings (the first of repeated ones). */
export async function queryOf(searchParams: SearchParams): Promise<Record<string, string | undefined>> {
  const raw = await searchParams;
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
}
