/*
 * Protocol crypto the core calls. PKCE (steps/pkce.ts), JWS (jws.ts) and the session cookie (session.ts) are
 * the core's own; the functions here are re-exported from packages/database-identity because the store uses
 * them too (it generates sids and client secrets, hashes the passwords it stores and digests codes and
 * tokens), and one implementation keeps the stored formats in one place.
 */

/** Authorization codes and refresh tokens (and lib/recovery's link tokens): URL-safe, 256 bits by default. */
export { randomToken } from '@idp/database-identity';

/**
 * verifyPassword checks a password against a stored scrypt hash; decoyPasswordHash is a well-formed hash of a
 * random password, verified against when the account is unknown so that costs the same time.
 */
export { decoyPasswordHash, verifyPassword } from '@idp/database-identity';

/**
 * Keyed digests (HMAC-SHA256 under a key derived from KEY_ENCRYPTION_SECRET) of high-entropy values: the
 * store's SecretBox, as the core uses it (Provider.store.box).
 */
export interface KeyedDigests {
  digest(value: string): string;
  /** Constant-time comparison of `value`'s digest with a stored digest. */
  matchesDigest(value: string, storedDigest: string): boolean;
}
