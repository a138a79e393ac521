import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** One client and the grants it holds. */
export const GET = adminRoute(ADMIN_OPERATIONS.getClient, ({ service, params }) => service.getClient(params.clientId));

/** Edits a client. */
export const POST = adminRoute(ADMIN_OPERATIONS.updateClient, ({ service, params, input }) => service.updateClient(params.clientId, input));
