import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** The user's token ledger. */
export const GET = adminRoute({ params: s.userIdParam, input: s.pageQuery }, ({ service, params, input }) => service.userFamilies(params.userId, input));
