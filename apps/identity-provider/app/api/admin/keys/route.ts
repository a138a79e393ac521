import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** Signing keys with their state and schedule. */
export const GET = adminRoute({}, ({ service }) => service.listKeys());
