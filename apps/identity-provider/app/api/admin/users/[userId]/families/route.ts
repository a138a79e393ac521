import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** The user's token ledger. */
export const GET = adminRoute(ADMIN_OPERATIONS.userFamilies, ({ service, params, input }) => service.userFamilies(params.userId, input));
