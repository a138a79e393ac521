import { openApiDocument } from '@/lib/admin/openapi';
import { ADMIN_OPERATIONS } from '@/lib/admin/operations';
import { adminRoute } from '@/lib/admin/route';

export const dynamic = 'force-dynamic';

/** The admin API described as OpenAPI 3.1, generated from its zod schemas. */
export const GET = adminRoute(ADMIN_OPERATIONS.openApi, async () => openApiDocument());
