import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** A new secret, shown once; the old one works for grace_seconds more. */
export const POST = adminRoute({ params: s.clientIdParam, input: s.rotateSecretInput, recentSignIn: true }, ({ service, params, input }) =>
  service.rotateClientSecret(params.clientId, input.grace_seconds),
);
