import type { KeyRing } from '../ports';
import { reply } from '../respond';

/** Bounds the work a hostile If-None-Match can cause: a JWKS revalidation sends one or a few tags. */
const MAX_IF_NONE_MATCH_LENGTH = 4096;

/**
 * RFC 9110 13.1.2: `*`, or a list of entity tags compared weakly (a `W/` prefix is ignored) with ours.
 */
export function ifNoneMatchHits(header: string | null, etag: string): boolean {
  if (!header || header.length > MAX_IF_NONE_MATCH_LENGTH) return false;
  if (header.trim() === '*') return true;
  const ours = etag.replace(/^W\//, '');
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === ours);
}

/**
 * The JWKS: public halves of the next, active and retiring keys. `maxAgeSeconds` is below the time a new
 * key is published before it signs, so a verifier's cached copy always holds the key that signs next; the
 * ETag lets it revalidate for a 304.
 */
export async function jwksEndpoint(request: Request, keys: KeyRing, maxAgeSeconds: number): Promise<Response> {
  const { body, etag } = await keys.jwks();
  const headers = { 'Content-Type': 'application/jwk-set+json; charset=utf-8', 'Cache-Control': `public, max-age=${maxAgeSeconds}`, ETag: etag };
  if (ifNoneMatchHits(request.headers.get('if-none-match'), etag)) return reply(null, { status: 304, headers });
  return reply(body, { headers });
}
