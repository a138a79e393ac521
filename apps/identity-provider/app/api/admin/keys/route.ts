import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Signing keys with their state and schedule. */
export const GET = adminRoute(ADMIN_OPERATIONS.listKeys, ({ service }) => service.listKeys());
