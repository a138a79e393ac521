import type { ClientRegistry } from './ports';

/**
 * CORS for browser clients (SPAs): an Origin is allowed when it is the origin of a redirect URI of some
 * registered client. Never a wildcard, never credentials: these endpoints authenticate by token or client
 * credentials, not cookies. Origins are cached with the client registry.
 */
export async function corsHeaders(origin: string | null, allowedOrigins: () => Promise<ReadonlySet<string>>): Promise<Record<string, string>> {
  if (!origin) return {};
  if (!(await allowedOrigins()).has(origin)) return { Vary: 'Origin' };
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, DPoP',
    'Access-Control-Expose-Headers': 'WWW-Authenticate, Retry-After, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset',
    'Access-Control-Max-Age': '600',
    Vary: 'Origin',
  };
}

export function originsOf(redirectUris: Iterable<string>): Set<string> {
  const origins = new Set<string>();
  for (const uri of redirectUris) {
    try {
      const url = new URL(uri);
      if (url.protocol === 'http:' || url.protocol === 'https:') origins.add(url.origin);
    } catch {
      // not a URL: no origin to allow
    }
  }
  return origins;
}

export type { ClientRegistry };
