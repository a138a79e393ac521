import { createHash, timingSafeEqual } from 'node:crypto';
import { InvalidGrant } from '../errors';

/** RFC 7636 4.1/4.2: 43-128 characters from the unreserved set. */
export const PKCE_VALUE = /^[A-Za-z0-9\-._~]{43,128}$/;

export class PkceFailed extends InvalidGrant {
  constructor(description: string) {
    super(description);
  }
}

/**
 * Checks the code_verifier against the stored S256 challenge. A verifier without a challenge is refused
 * as well (RFC 9700 2.1.1: prevents PKCE downgrade).
 */
export function verifyPkce(challenge: string | null, verifier: string | undefined): void {
  if (!challenge) {
    if (verifier) throw new PkceFailed('code_verifier was sent but the authorization request had no code_challenge');
    return;
  }
  if (!verifier) throw new PkceFailed('code_verifier is required');
  if (!PKCE_VALUE.test(verifier)) throw new PkceFailed('code_verifier is malformed');
  const expected = Buffer.from(challenge, 'utf8');
  const actual = Buffer.from(createHash('sha256').update(verifier, 'ascii').digest('base64url'), 'utf8');
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) throw new PkceFailed('code_verifier does not match the code_challenge');
}
