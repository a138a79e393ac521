import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Provider health, counts, the last security events. */
export const GET = adminRoute({}, ({ service }) => service.overview());
