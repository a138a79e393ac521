import { getContainer } from '@/lib/http/next';
import { CLIENT_IP_HEADER } from '@/lib/http/edge';
import { DEMO_CLIENTS, DEMO_USERS, ensureDemoFixtures, isDemoSetupToken } from '@/lib/demo/fixtures';

export const dynamic = 'force-dynamic';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/**
 * Development only: creates the demo clients and users of `npm run idp -- demo:traffic` if missing, so the
 * CLI needs no database of its own (the embedded one is the running server's). Answers 404 in production,
 * to anything but a loopback caller, and without the setup token the CLI derives from the same
 * KEY_ENCRYPTION_SECRET. Returns ids only: the CLI derives the secrets itself.
 */
export async function POST(request: Request) {
  const { config, store } = await getContainer();
  const notFound = () => Response.json({ error: 'not_found' }, { status: 404, headers: { 'Cache-Control': 'no-store' } });
  if (config.production) return notFound();
  const ip = request.headers.get(CLIENT_IP_HEADER);
  if (!ip || !LOOPBACK.has(ip)) return notFound();
  const token = /^Bearer (\S+)$/.exec(request.headers.get('authorization') ?? '')?.[1] ?? null;
  if (!isDemoSetupToken(config.keyEncryptionSecret, token)) return notFound();
  const { created } = await ensureDemoFixtures(store, config.keyEncryptionSecret);
  return Response.json(
    { created, clients: Object.values(DEMO_CLIENTS).map((c) => c.clientId), users: DEMO_USERS.map((u) => u.email) },
    { headers: { 'Cache-Control': 'no-store' } },
  );
}
