import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { CompactSign, compactVerify, importJWK, jwtVerify, SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { decodeCompact, signCompact, verifySignature } from './jws';

describe.each(['ES256', 'RS256'] as const)('compact JWS with %s', (alg) => {
  const pair = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateJwk = pair.privateKey.export({ format: 'jwk' });
  const publicJwk = pair.publicKey.export({ format: 'jwk' });
  const privateKey = createPrivateKey({ key: privateJwk, format: 'jwk' });
  const publicKey = createPublicKey({ key: publicJwk, format: 'jwk' });
  const claims = { iss: 'https://id.example', sub: 'u1', aud: 'c1', iat: 1_800_000_000, exp: 4_000_000_000 };

  it('our tokens verify with jose, a certified-grade implementation', async () => {
    const token = signCompact({ alg, kid: 'k1', typ: 'at+jwt' }, claims, privateKey);
    const { payload, protectedHeader } = await jwtVerify(token, await importJWK(publicJwk, alg), {
      algorithms: [alg],
      issuer: 'https://id.example',
      audience: 'c1',
      typ: 'at+jwt',
    });
    expect(payload).toMatchObject(claims);
    expect(protectedHeader).toEqual({ alg, kid: 'k1', typ: 'at+jwt' });
    // headers are encoded once per (alg, kid, typ): another kid or typ gets its own
    for (const [kid, typ] of [
      ['k2', 'at+jwt'],
      ['k1', 'JWT'],
      ['k1', 'at+jwt'],
    ]) {
      const next = await jwtVerify(signCompact({ alg, kid, typ }, claims, privateKey), await importJWK(publicJwk, alg), { algorithms: [alg] });
      expect(next.protectedHeader).toEqual({ alg, kid, typ });
    }
  });

  it("jose's tokens verify with ours; tampering and foreign keys do not", async () => {
    const token = await new SignJWT(claims).setProtectedHeader({ alg, kid: 'k1' }).sign(await importJWK(privateJwk, alg));
    const decoded = decodeCompact(token)!;
    expect(verifySignature(decoded, alg, publicKey)).toBe(true);
    const [h, , s] = token.split('.');
    const forged = decodeCompact(`${h}.${Buffer.from(JSON.stringify({ ...claims, sub: 'admin' })).toString('base64url')}.${s}`)!;
    expect(verifySignature(forged, alg, publicKey)).toBe(false);
    const other = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    expect(verifySignature(decoded, alg, other.publicKey)).toBe(false);
    const raw = await new CompactSign(new TextEncoder().encode('x')).setProtectedHeader({ alg }).sign(await importJWK(privateJwk, alg));
    await expect(compactVerify(raw, await importJWK(publicJwk, alg))).resolves.toBeTruthy();
  });

  it('refuses what is not a compact JWS', () => {
    for (const junk of ['', 'a.b', 'a.b.c.d', '!!.e30.x', `${Buffer.from('[]').toString('base64url')}.e30.`]) expect(decodeCompact(junk)).toBeNull();
  });
});
