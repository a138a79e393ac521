import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** The client's token ledger: grants (token families) with their live refresh tokens. */
export const GET = adminRoute({ params: s.clientIdParam, input: s.pageQuery }, ({ service, params, input }) => service.clientFamilies(params.clientId, input));
