import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** The client's failures of the last 7 days by action and reason. */
export const GET = adminRoute(ADMIN_OPERATIONS.clientFailures, ({ service, params }) => service.clientFailures(params.clientId));
