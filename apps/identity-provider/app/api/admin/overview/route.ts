import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Provider health, counts, the last security events. */
export const GET = adminRoute(ADMIN_OPERATIONS.overview, ({ service }) => service.overview());
