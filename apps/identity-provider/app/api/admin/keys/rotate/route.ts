import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** A new active key; the previous one stays published until what it signed expired. */
export const POST = adminRoute({ input: s.keyRotateInput, recentSignIn: true }, ({ service, input }) => service.rotateKey(input.alg, input.immediate));
