import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Revokes a grant: its refresh tokens and the access tokens issued from it. */
export const POST = adminRoute({ params: s.familyIdParam, input: s.emptyInput, recentSignIn: true }, ({ service, params }) =>
  service.revokeFamily(params.familyId),
);
