import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** The client's failures of the last 7 days by action and reason. */
export const GET = adminRoute({ params: s.clientIdParam }, ({ service, params }) => service.clientFailures(params.clientId));
