import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** A new active key; the previous one stays published until what it signed expired. */
export const POST = adminRoute(ADMIN_OPERATIONS.rotateKey, ({ service, input }) => service.rotateKey(input.alg, input.immediate));
