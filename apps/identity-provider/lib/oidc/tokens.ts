import { createHash, randomUUID } from 'node:crypto';
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { SigningAlg } from '@idp/database-identity';
import { InvalidToken } from './errors';
import type { Provider } from './ports';

/** Claims of our RFC 9068 access tokens. `gid` names the grant (token family) so revoking it reaches them. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string;
  client_id: string;
  scope: string;
  jti: string;
  iat: number;
  exp: number;
  auth_time?: number;
  sid?: string;
  gid?: string;
}

export interface IssuedAccessToken {
  token: string;
  jti: string;
  issuedAt: Date;
  expiresAt: Date;
  expiresIn: number;
}

export async function issueAccessToken(
  provider: Provider,
  input: { subject: string; clientId: string; scope: string[]; familyId?: string | null; authTime?: Date | null; sid?: string | null },
): Promise<IssuedAccessToken> {
  const { settings } = provider;
  const { kid, key } = await provider.keys.signingKey(settings.accessTokenAlg);
  const iat = Math.floor(provider.now().getTime() / 1000);
  const exp = iat + settings.ttl.accessToken;
  const jti = randomUUID();
  const claims: AccessTokenClaims = {
    iss: settings.issuer,
    sub: input.subject,
    aud: settings.accessTokenAudience,
    client_id: input.clientId,
    scope: input.scope.join(' '),
    jti,
    iat,
    exp,
    ...(input.authTime ? { auth_time: Math.floor(input.authTime.getTime() / 1000) } : {}),
    ...(input.sid ? { sid: input.sid } : {}),
    ...(input.familyId ? { gid: input.familyId } : {}),
  };
  const token = await new SignJWT(claims).setProtectedHeader({ alg: settings.accessTokenAlg, kid, typ: 'at+jwt' }).sign(key);
  return { token, jti, issuedAt: new Date(iat * 1000), expiresAt: new Date(exp * 1000), expiresIn: settings.ttl.accessToken };
}

/** OIDC Core 3.1.3.6: left half of the hash of the access token, with the ID token's hash size. */
export function atHash(accessToken: string): string {
  const digest = createHash('sha256').update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export async function issueIdToken(
  provider: Provider,
  input: { subject: string; clientId: string; alg: SigningAlg; authTime: Date; nonce?: string | null; sid?: string | null; accessToken?: string; extraClaims?: Record<string, unknown> },
): Promise<{ token: string; expiresAt: Date }> {
  const { settings } = provider;
  const { kid, key } = await provider.keys.signingKey(input.alg);
  const iat = Math.floor(provider.now().getTime() / 1000);
  const exp = iat + settings.ttl.idToken;
  const claims: JWTPayload & Record<string, unknown> = {
    ...input.extraClaims,
    iss: settings.issuer,
    sub: input.subject,
    aud: input.clientId,
    iat,
    exp,
    auth_time: Math.floor(input.authTime.getTime() / 1000),
    ...(input.nonce ? { nonce: input.nonce } : {}),
    ...(input.sid ? { sid: input.sid } : {}),
    ...(input.accessToken ? { at_hash: atHash(input.accessToken) } : {}),
  };
  const token = await new SignJWT(claims).setProtectedHeader({ alg: input.alg, kid, typ: 'JWT' }).sign(key);
  return { token, expiresAt: new Date(exp * 1000) };
}

const ACCEPTED_ALGS = ['ES256', 'RS256'];

/**
 * Verifies one of our JWTs: the signature with a published key whose kid AND alg match (so `alg: none`
 * and HMAC-signed-with-the-public-key forgeries fail), then issuer, audience, expiry and typ.
 */
export async function verifyOwnJwt(
  provider: Provider,
  token: string,
  options: { audience?: string; typ?: string; allowExpired?: boolean },
): Promise<JWTPayload & Record<string, unknown>> {
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch (cause) {
    throw new InvalidToken('The token is malformed', { cause });
  }
  if (!header.alg || !ACCEPTED_ALGS.includes(header.alg) || !header.kid) throw new InvalidToken('The token is not signed with an accepted algorithm');
  const key = await provider.keys.verificationKey(header.kid, header.alg);
  if (!key) throw new InvalidToken('The token was not signed by a key of this issuer');
  try {
    const { payload } = await jwtVerify(token, key, {
      algorithms: [header.alg],
      issuer: provider.settings.issuer,
      ...(options.audience ? { audience: options.audience } : {}),
      ...(options.typ ? { typ: options.typ } : {}),
      currentDate: provider.now(),
    });
    return payload as JWTPayload & Record<string, unknown>;
  } catch (cause) {
    if (cause instanceof joseErrors.JWTExpired) {
      if (options.allowExpired) return cause.payload as JWTPayload & Record<string, unknown>;
      throw new TokenExpired(cause);
    }
    throw new InvalidToken('The token is invalid', { cause });
  }
}

export class TokenExpired extends InvalidToken {
  constructor(cause: unknown) {
    super('The token has expired', { cause });
  }
}

/** Verifies an access token and checks it has not been revoked (individually or via its grant). */
export async function verifyAccessToken(provider: Provider, token: string): Promise<AccessTokenClaims> {
  const claims = (await verifyOwnJwt(provider, token, { audience: provider.settings.accessTokenAudience, typ: 'at+jwt' })) as AccessTokenClaims;
  if (typeof claims.jti !== 'string' || typeof claims.client_id !== 'string' || typeof claims.sub !== 'string') {
    throw new InvalidToken('The token is missing required claims');
  }
  if (await provider.store.grants.isAccessTokenRevoked(claims.jti, claims.gid ?? null)) throw new InvalidToken('The token has been revoked');
  return claims;
}
