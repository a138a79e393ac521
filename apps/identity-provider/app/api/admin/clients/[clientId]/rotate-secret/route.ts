import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** A new secret, shown once; the old one works for grace_seconds more. */
export const POST = adminRoute(ADMIN_OPERATIONS.rotateClientSecret, ({ service, params, input }) =>
  service.rotateClientSecret(params.clientId, input.grace_seconds),
);
