import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** One audit event with its related events (same request, token family or session). */
export const GET = adminRoute(ADMIN_OPERATIONS.auditEvent, ({ service, params }) => service.auditEvent(params.eventId));
