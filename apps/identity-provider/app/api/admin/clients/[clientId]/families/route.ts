import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** The client's token ledger: grants (token families) with their live refresh tokens. */
export const GET = adminRoute(ADMIN_OPERATIONS.clientFamilies, ({ service, params, input }) => service.clientFamilies(params.clientId, input));
