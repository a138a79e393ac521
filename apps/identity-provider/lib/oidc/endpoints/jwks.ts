import type { KeyRing } from '../ports';
import { reply } from '../respond';

/**
 * The JWKS: public halves of the active and retiring keys. Short cache lifetime so relying parties see
 * a rotation promptly; an ETag lets them revalidate cheaply.
 */
export async function jwksEndpoint(request: Request, keys: KeyRing): Promise<Response> {
  const { body, etag } = await keys.jwks();
  const headers = { 'Content-Type': 'application/jwk-set+json; charset=utf-8', 'Cache-Control': 'public, max-age=300', ETag: etag };
  if (request.headers.get('if-none-match') === etag) return reply(null, { status: 304, headers });
  return reply(body, { headers });
}
