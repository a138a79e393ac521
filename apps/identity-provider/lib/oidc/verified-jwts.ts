import type { KeyObject } from 'node:crypto';

/** A JWT whose signature checked out, with the key that checked it. Shared: never mutate. */
export interface VerifiedJwt {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly key: KeyObject;
}

/**
 * Signature results for exact token strings, so a token presented again (userinfo, introspection) skips the
 * ECDSA/RSA verification. Only tokens that passed every check go in; a hit is used only while its key is
 * still the published one (the caller compares KeyObjects) and the claims are checked again each time. A
 * different string, even one byte, is a different entry. Bounded: the oldest entry goes first; an entry
 * is dropped once its `exp` has passed.
 */
export class VerifiedJwtCache {
  private readonly entries = new Map<string, VerifiedJwt & { exp: number }>();

  constructor(readonly maxEntries = 10_000) {}

  get(token: string, nowSeconds: number): VerifiedJwt | undefined {
    const entry = this.entries.get(token);
    if (entry && entry.exp <= nowSeconds) {
      this.entries.delete(token);
      return undefined;
    }
    return entry;
  }

  /** Remembers a verified token until `exp` (seconds since the epoch). */
  set(token: string, verified: VerifiedJwt, exp: number): void {
    if (this.entries.size >= this.maxEntries && !this.entries.has(token)) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { header: Object.freeze(verified.header), payload: Object.freeze(verified.payload), key: verified.key, exp });
  }

  delete(token: string): void {
    this.entries.delete(token);
  }

  get size(): number {
    return this.entries.size;
  }
}
