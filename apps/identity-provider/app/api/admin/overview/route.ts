import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Provider health, counts, the last security events. */
export const GET = adminRoute({}, ({ service }) => service.overview());
