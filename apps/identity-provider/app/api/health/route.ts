import { getContainer } from '@/lib/http/next';

export const dynamic = 'force-dynamic';

/** Liveness: the process is up and its container is built. No secrets, no database round trip. */
export async function GET() {
  const { version, startedAt } = await getContainer();
  return Response.json(
    { status: 'ok', version, uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000) },
    { headers: { 'Cache-Control': 'no-store' } },
  );
}
