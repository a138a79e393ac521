import { createHmac, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidToken } from './errors';
import { signCompact } from './jws';
import type { KeyRing, Provider } from './ports';
import { issueAccessToken, TokenExpired, verifyAccessToken, verifyAccessTokenClaims, verifyOwnJwt } from './tokens';
import { VerifiedJwtCache } from './verified-jwts';

const ISSUER = 'https://id.example';
const newKey = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** Just enough of a Provider for token issuance and verification, with a clock and a key set the test controls. */
function testProvider() {
  let pair = newKey();
  const published = new Map<string, { alg: string; key: KeyObject }>([['k1', { alg: 'ES256', key: pair.publicKey }]]);
  let time = Date.parse('2030-01-01T00:00:00Z');
  const revokedJtis = new Set<string>();
  const keys: KeyRing = {
    signingKey: async () => ({ kid: 'k1', alg: 'ES256', key: pair.privateKey }),
    verificationKey: async (kid, alg) => {
      const entry = published.get(kid);
      return entry && entry.alg === alg ? entry.key : null;
    },
    jwks: async () => ({ body: '{}', etag: '""' }),
  };
  const provider = {
    settings: { issuer: ISSUER, accessTokenAudience: ISSUER, accessTokenAlg: 'ES256', ttl: { accessToken: 900 } },
    keys,
    verifiedJwts: new VerifiedJwtCache(),
    accessTokenSubjects: { lookup: async (_user: string | null, jti: string) => ({ user: null, revoked: revokedJtis.has(jti) }), close() {} },
    now: () => new Date(time),
  } as unknown as Provider;
  return {
    provider,
    published,
    revokedJtis,
    privateKey: () => pair.privateKey,
    advance: (seconds: number) => void (time += seconds * 1000),
    /** Publishes a new key pair under the same kid: the old KeyObject is no longer the published one. */
    replaceKey: () => {
      pair = newKey();
      published.set('k1', { alg: 'ES256', key: pair.publicKey });
    },
  };
}

async function accessToken(t: ReturnType<typeof testProvider>) {
  return (await issueAccessToken(t.provider, { subject: 'user-1', clientId: 'client-1', scope: ['openid'], familyId: null })).token;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('verified-signature cache', () => {
  it('returns the same claims from the cache as from a full verification', async () => {
    const t = testProvider();
    const token = await accessToken(t);
    const first = await verifyAccessTokenClaims(t.provider, token);
    expect(t.provider.verifiedJwts.size).toBe(1);
    const again = await verifyAccessTokenClaims(t.provider, token);
    expect(again).toEqual(first);
    expect(again).toMatchObject({ iss: ISSUER, sub: 'user-1', client_id: 'client-1', scope: 'openid', aud: ISSUER });
    expect(t.provider.verifiedJwts.size).toBe(1);
  });

  it('rejects a tampered token even while the genuine one is cached', async () => {
    const t = testProvider();
    const token = await accessToken(t);
    await verifyAccessTokenClaims(t.provider, token);
    const [h, p, s] = token.split('.');
    const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = [
      `${h}.${b64({ ...payload, sub: 'admin' })}.${s}`,
      `${h}.${p}.${s.slice(0, -2)}${s.endsWith('AA') ? 'AB' : 'AA'}`,
      `${b64({ alg: 'none', typ: 'at+jwt', kid: 'k1' })}.${p}.`,
    ];
    for (const forged of tampered) await expect(verifyAccessTokenClaims(t.provider, forged)).rejects.toBeInstanceOf(InvalidToken);
    expect(t.provider.verifiedJwts.size).toBe(1);
  });

  it('still refuses alg none, HMAC with the public key, and unknown kids', async () => {
    const t = testProvider();
    const claims = { iss: ISSUER, sub: 'u', aud: ISSUER, client_id: 'c', scope: 'openid', jti: 'j', iat: 1_893_456_000, exp: 1_893_456_900 };
    const publicPem = t.published.get('k1')!.key.export({ type: 'spki', format: 'pem' });
    const hsInput = `${b64({ alg: 'HS256', typ: 'at+jwt', kid: 'k1' })}.${b64(claims)}`;
    const forged = [
      `${b64({ alg: 'none', typ: 'at+jwt', kid: 'k1' })}.${b64(claims)}.`,
      `${hsInput}.${createHmac('sha256', publicPem).update(hsInput).digest('base64url')}`,
      signCompact({ alg: 'ES256', kid: 'unknown', typ: 'at+jwt' }, claims, t.privateKey()),
      signCompact({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' }, claims, newKey().privateKey),
    ];
    for (const token of forged) {
      await expect(verifyAccessTokenClaims(t.provider, token)).rejects.toBeInstanceOf(InvalidToken);
      await expect(verifyAccessTokenClaims(t.provider, token)).rejects.toBeInstanceOf(InvalidToken);
    }
    expect(t.provider.verifiedJwts.size).toBe(0);
  });

  it('rejects a cached token once its key is no longer published, or another key is published under its kid', async () => {
    const t = testProvider();
    const token = await accessToken(t);
    await verifyAccessTokenClaims(t.provider, token);
    const key = t.published.get('k1')!;
    t.published.delete('k1');
    await expect(verifyAccessTokenClaims(t.provider, token)).rejects.toThrow('The token signature is invalid');
    expect(t.provider.verifiedJwts.size).toBe(0);

    t.published.set('k1', key);
    await verifyAccessTokenClaims(t.provider, token);
    t.replaceKey();
    await expect(verifyAccessTokenClaims(t.provider, token)).rejects.toThrow('The token signature is invalid');
  });

  it('rejects a cached token once it has expired, and forgets it', async () => {
    const t = testProvider();
    const token = await accessToken(t);
    await verifyAccessTokenClaims(t.provider, token);
    t.advance(899);
    await verifyAccessTokenClaims(t.provider, token);
    t.advance(1);
    await expect(verifyAccessTokenClaims(t.provider, token)).rejects.toBeInstanceOf(TokenExpired);
    expect(t.provider.verifiedJwts.size).toBe(0);
    // an expired token accepted on purpose (end-session's id_token_hint) is not remembered either
    await expect(verifyOwnJwt(t.provider, token, { allowExpired: true })).resolves.toMatchObject({ sub: 'user-1' });
    expect(t.provider.verifiedJwts.size).toBe(0);
  });

  it('checks the claims on every hit: type, audience, not-before', async () => {
    const t = testProvider();
    const token = await accessToken(t);
    await verifyAccessTokenClaims(t.provider, token);
    await expect(verifyOwnJwt(t.provider, token, { typ: 'JWT' })).rejects.toThrow('not of the expected type');
    await expect(verifyOwnJwt(t.provider, token, { audience: 'https://api.example' })).rejects.toThrow('another audience');

    const later = signCompact(
      { alg: 'ES256', kid: 'k1', typ: 'at+jwt' },
      {
        iss: ISSUER,
        sub: 'u',
        aud: ISSUER,
        client_id: 'c',
        scope: 'openid',
        jti: 'j-nbf',
        iat: 1_893_456_000,
        nbf: 1_893_456_000 + 60,
        exp: 1_893_456_000 + 900,
      },
      t.privateKey(),
    );
    await expect(verifyAccessTokenClaims(t.provider, later)).rejects.toThrow('not valid yet');
    expect(t.provider.verifiedJwts.size).toBe(1);
  });

  it('verifyAccessToken still asks about revocation on every call', async () => {
    const t = testProvider();
    const token = await accessToken(t);
    const { jti } = await verifyAccessToken(t.provider, token);
    t.revokedJtis.add(jti);
    await expect(verifyAccessToken(t.provider, token)).rejects.toThrow('revoked');
  });

  it('stays bounded', () => {
    const cache = new VerifiedJwtCache(2);
    const entry = { header: {}, payload: {}, key: newKey().publicKey };
    for (const token of ['a', 'b', 'c']) cache.set(token, entry, 100);
    expect(cache.size).toBe(2);
    expect(cache.get('a', 0)).toBeUndefined();
    expect(cache.get('c', 0)).toBeDefined();
  });
});
