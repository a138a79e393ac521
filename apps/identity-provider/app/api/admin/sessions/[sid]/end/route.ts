import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Ends one session. */
export const POST = adminRoute({ params: s.sessionIdParam, input: s.emptyInput, recentSignIn: true }, ({ service, params }) => service.endSession(params.sid));
