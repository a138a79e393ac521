import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Deletes a client, revoking its grants. */
export const POST = adminRoute({ params: s.clientIdParam, input: s.emptyInput, recentSignIn: true }, ({ service, params }) =>
  service.deleteClient(params.clientId),
);
