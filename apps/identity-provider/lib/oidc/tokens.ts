import { createHash, randomUUID } from 'node:crypto';
import { decodeCompact, signCompact, verifySignature } from './jws';
import { SystemDate, type SigningAlg } from './domain';
import { InvalidToken } from './errors';
import type { Provider } from './ports';
import type { VerifiedJwt } from './verified-jwts';
import { defaultTarget, type AccessTokenTarget } from './steps/resource';

/** Registered JWT claims (RFC 7519 4.1) plus whatever else a token carries. */
export interface JWTPayload {
  iss?: string;
  sub?: string;
  aud?: string | string[];
  exp?: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  [claim: string]: unknown;
}

/** Claims of our RFC 9068 access tokens. `gid` names the grant (token family) so revoking it reaches them. */
export interface AccessTokenClaims extends JWTPayload {
  iss: string;
  sub: string;
  /** The default audience (the issuer), or the resource server(s) the token was issued for (RFC 8707). */
  aud: string | string[];
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

/** `target` (steps/resource.ts) sets aud, alg, lifetime and added claims; default: the provider's default audience. */
export async function issueAccessToken(
  provider: Provider,
  input: {
    subject: string;
    clientId: string;
    scope: string[];
    familyId?: string | null;
    authTime?: Date | null;
    sid?: string | null;
    target?: AccessTokenTarget;
  },
): Promise<IssuedAccessToken> {
  const { settings } = provider;
  const target = input.target ?? defaultTarget(settings, null);
  const { kid, key } = await provider.keys.signingKey(target.alg);
  const iat = Math.floor(provider.now().getTime() / 1000);
  const exp = iat + target.ttlSeconds;
  const jti = randomUUID();
  const claims: AccessTokenClaims = {
    // a resource server's claims first: the registered ones below can never be replaced by them
    ...target.claims,
    iss: settings.issuer,
    sub: input.subject,
    aud: target.aud,
    client_id: input.clientId,
    scope: input.scope.join(' '),
    jti,
    iat,
    exp,
    ...(input.authTime ? { auth_time: Math.floor(input.authTime.getTime() / 1000) } : {}),
    ...(input.sid ? { sid: input.sid } : {}),
    ...(input.familyId ? { gid: input.familyId } : {}),
  };
  const token = signCompact({ alg: target.alg, kid, typ: 'at+jwt' }, claims, key);
  return { token, jti, issuedAt: new SystemDate(iat * 1000), expiresAt: new SystemDate(exp * 1000), expiresIn: target.ttlSeconds };
}

/** OIDC Core 3.1.3.6: left half of the hash of the access token, with the ID token's hash size. */
export function atHash(accessToken: string): string {
  const digest = createHash('sha256').update(accessToken, 'ascii').digest();
  return digest.subarray(0, digest.length / 2).toString('base64url');
}

export async function issueIdToken(
  provider: Provider,
  input: {
    subject: string;
    clientId: string;
    alg: SigningAlg;
    authTime: Date;
    nonce?: string | null;
    sid?: string | null;
    accessToken?: string;
    extraClaims?: Record<string, unknown>;
  },
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
  const token = signCompact({ alg: input.alg, kid, typ: 'JWT' }, claims, key);
  return { token, expiresAt: new Date(exp * 1000) };
}

const ACCEPTED_ALGS = new Set(['ES256', 'RS256']);

/** `at+jwt` and `application/at+jwt` name the same media type (RFC 7515 4.1.9). */
const sameTyp = (actual: unknown, expected: string) =>
  typeof actual === 'string' && actual.toLowerCase().replace(/^application\//, '') === expected.toLowerCase();

/**
 * Verifies one of our JWTs: the signature with a published key whose kid AND alg match the header (so
 * `alg: none`, HMAC-signed-with-the-public-key and foreign keys fail), no `crit` extensions, then issuer,
 * audience, expiry, not-before and typ. A token verified before (exact same string) skips the signature
 * check while the key that verified it is still the one published under its kid; the claims are checked
 * every time.
 */
export async function verifyOwnJwt(
  provider: Provider,
  token: string,
  options: { audience?: string; typ?: string; allowExpired?: boolean },
): Promise<JWTPayload & Record<string, unknown>> {
  const now = Math.floor(provider.now().getTime() / 1000);
  const cache = provider.verifiedJwts;
  let verified = cache.get(token, now);
  if (verified && (await provider.keys.verificationKey(verified.header.kid as string, verified.header.alg as string)) !== verified.key) {
    // the key was retired or replaced: verify from scratch (and fail if it is no longer published)
    cache.delete(token);
    verified = undefined;
  }
  const fromCache = !!verified;
  verified ??= await verifySigned(provider, token);
  const { header, payload } = verified;

  const claims = payload as JWTPayload & Record<string, unknown>;
  if (options.typ && !sameTyp(header.typ, options.typ)) throw new InvalidToken('The token is not of the expected type');
  if (claims.iss !== provider.settings.issuer) throw new InvalidToken('The token was issued by someone else');
  if (options.audience) {
    const aud = claims.aud;
    if (!(aud === options.audience || (Array.isArray(aud) && aud.includes(options.audience)))) throw new InvalidToken('The token is for another audience');
  }
  if (typeof claims.exp !== 'number' || typeof claims.iat !== 'number') throw new InvalidToken('The token is missing exp or iat');
  if (claims.nbf !== undefined && (typeof claims.nbf !== 'number' || claims.nbf > now)) throw new InvalidToken('The token is not valid yet');
  if (claims.exp <= now && !options.allowExpired) throw new TokenExpired(null);
  // only tokens that passed everything, and only until they expire
  if (!fromCache && claims.exp > now) cache.set(token, verified, claims.exp);
  return claims;
}

/**
 * An `id_token_hint` (OIDC Core 3.1.2.1, RP-Initiated Logout 1.0 2): only an ID token this provider signed
 * counts, expired or not. Access tokens are signed with the same keys, so the header's typ and the claim
 * shape tell them apart: ours are `typ: JWT` with a single client as `aud` and none of RFC 9068's
 * `client_id`/`scope`. `audience`, when given, is the client that must be named.
 */
export async function verifyIdTokenHint(provider: Provider, token: string, audience?: string): Promise<IdTokenHintClaims> {
  const claims = await verifyOwnJwt(provider, token, { typ: 'JWT', allowExpired: true, ...(audience ? { audience } : {}) });
  if (typeof claims.sub !== 'string' || typeof claims.aud !== 'string' || claims.client_id !== undefined || claims.scope !== undefined) {
    throw new InvalidToken('The token is not an ID token');
  }
  if (claims.sid !== undefined && typeof claims.sid !== 'string') throw new InvalidToken('The token is not an ID token');
  return claims as IdTokenHintClaims;
}

export interface IdTokenHintClaims extends JWTPayload {
  iss: string;
  sub: string;
  aud: string;
  exp: number;
  iat: number;
  sid?: string;
}

/** The signature check proper: header, published key for (kid, alg), ES256/RS256 verification. */
async function verifySigned(provider: Provider, token: string): Promise<VerifiedJwt> {
  const jws = decodeCompact(token);
  if (!jws) throw new InvalidToken('The token is malformed');
  const { header, payload } = jws;
  const alg = header.alg;
  if (typeof alg !== 'string' || !ACCEPTED_ALGS.has(alg) || typeof header.kid !== 'string')
    throw new InvalidToken('The token is not signed with an accepted algorithm');
  if (header.crit !== undefined) throw new InvalidToken('The token uses unsupported header extensions');
  const key = await provider.keys.verificationKey(header.kid, alg);
  if (!key || !verifySignature(jws, alg as 'ES256' | 'RS256', key)) throw new InvalidToken('The token signature is invalid');
  return { header, payload, key };
}

export class TokenExpired extends InvalidToken {
  constructor(cause: unknown) {
    super('The token has expired', { cause });
  }
}

/**
 * Verifies an access token's signature and claims; revocation is the caller's next step. By default the
 * token must be for the provider's default audience (userinfo); `anyAudience` accepts a token for any
 * resource server too (introspection and revocation answer about every token the provider issued).
 */
export async function verifyAccessTokenClaims(provider: Provider, token: string, options: { anyAudience?: boolean } = {}): Promise<AccessTokenClaims> {
  const audience = options.anyAudience ? undefined : provider.settings.accessTokenAudience;
  const claims = (await verifyOwnJwt(provider, token, { audience, typ: 'at+jwt' })) as AccessTokenClaims;
  if (typeof claims.jti !== 'string' || typeof claims.client_id !== 'string' || typeof claims.sub !== 'string') {
    throw new InvalidToken('The token is missing required claims');
  }
  return claims;
}

/** Verifies an access token and checks it has not been revoked (individually or via its grant). */
export async function verifyAccessToken(provider: Provider, token: string, options: { anyAudience?: boolean } = {}): Promise<AccessTokenClaims> {
  const claims = await verifyAccessTokenClaims(provider, token, options);
  // same lookup (and cache entry) as userinfo for user tokens; a client's own token has no user to find
  const userId = claims.sub !== claims.client_id ? claims.sub : null;
  if ((await provider.accessTokenSubjects.lookup(userId, claims.jti, claims.gid ?? null)).revoked) throw new InvalidToken('The token has been revoked');
  return claims;
}
