import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** One client and the grants it holds. */
export const GET = adminRoute({ params: s.clientIdParam }, ({ service, params }) => service.getClient(params.clientId));

/** Edits a client. */
export const POST = adminRoute({ params: s.clientIdParam, input: s.clientUpdateInput }, ({ service, params, input }) =>
  service.updateClient(params.clientId, input),
);
