import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Disables (revoking its grants) or enables a client. */
export const POST = adminRoute({ params: s.clientIdParam, input: s.disableInput, recentSignIn: true }, ({ service, params, input }) =>
  service.setClientDisabled(params.clientId, input.disabled),
);
