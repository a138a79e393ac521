import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** Unlocks the account. */
export const POST = adminRoute({ params: s.userIdParam, input: s.emptyInput }, ({ service, params }) => service.unlockUser(params.userId));
