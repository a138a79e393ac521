import { adminRoute } from '@/lib/admin/route';
import * as s from '@/lib/admin/schemas';

export const dynamic = 'force-dynamic';

/** One audit event with its related events (same request, token family or session). */
export const GET = adminRoute({ params: s.eventIdParam }, ({ service, params }) => service.auditEvent(params.eventId));
