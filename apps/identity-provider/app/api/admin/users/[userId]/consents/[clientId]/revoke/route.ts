import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Withdraws a consent and revokes the refresh tokens it backed. */
export const POST = adminRoute({ params: s.consentParam, input: s.emptyInput, recentSignIn: true }, ({ service, params }) =>
  service.revokeConsent(params.userId, params.clientId),
);
