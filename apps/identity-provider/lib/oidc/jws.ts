import { sign, verify, type KeyObject } from 'node:crypto';
import type { SigningAlg } from './domain';

/**
 * Compact JWS for the provider's own tokens, on node:crypto KeyObjects (RFC 7515, RFC 7518 3.3/3.4).
 * Only ES256 and RS256 exist here; which one applies comes from the key, never from the token alone.
 */
const b64json = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

function signatureOptions(alg: SigningAlg, key: KeyObject) {
  // JWS carries ECDSA signatures as raw r||s (IEEE P1363), not DER
  return alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' as const } : key;
}

/** Our tokens' headers are {alg, kid, typ}: a handful of distinct values, each encoded once. */
const encodedHeaders = new Map<string, string>();

function encodedHeader(alg: SigningAlg, kid: string, typ: string): string {
  const cacheKey = `${alg} ${kid} ${typ}`;
  let encoded = encodedHeaders.get(cacheKey);
  if (encoded === undefined) {
    if (encodedHeaders.size >= 64) encodedHeaders.clear(); // rotations retire kids; never grows unbounded
    encoded = b64json({ alg, kid, typ });
    encodedHeaders.set(cacheKey, encoded);
  }
  return encoded;
}

export function signCompact(header: { alg: SigningAlg; kid: string; typ: string }, payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${encodedHeader(header.alg, header.kid, header.typ)}.${b64json(payload)}`;
  return `${input}.${sign('sha256', Buffer.from(input), signatureOptions(header.alg, key)).toString('base64url')}`;
}

export interface DecodedJws {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

/** Splits and parses a compact JWS; null when it is not one. Nothing is trusted until `verifySignature`. */
export function decodeCompact(token: string): DecodedJws | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((p) => !/^[A-Za-z0-9_-]*$/.test(p))) return null;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8'));
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
    const isObject = (v: unknown) => !!v && typeof v === 'object' && !Array.isArray(v);
    if (!isObject(header) || !isObject(payload)) return null;
    return { header, payload, signingInput: `${parts[0]}.${parts[1]}`, signature: Buffer.from(parts[2], 'base64url') };
  } catch {
    return null;
  }
}

export function verifySignature(jws: DecodedJws, alg: SigningAlg, key: KeyObject): boolean {
  if (alg === 'ES256' && jws.signature.length !== 64) return false;
  try {
    return verify('sha256', Buffer.from(jws.signingInput), signatureOptions(alg, key), jws.signature);
  } catch {
    return false;
  }
}
