import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, DuplicateResourceServerError, InvalidResourceServerError, randomToken, type IdentityStore } from '../../src';
import { driversUnderTest } from './harness';

const KEY_SECRET = 'k'.repeat(16) + 'contract-suite-key-material';

describe.each(driversUnderTest())('resource servers, per-client access-token alg, granted resources on $name', (driver) => {
  let store: IdentityStore;

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, KEY_SECRET);
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  it('create, find, list, update, delete; the fingerprint moves with every change', async () => {
    const v0 = await store.resourceServers.version();
    const created = await store.resourceServers.create({
      identifier: 'https://api.example/',
      name: 'API',
      scopes: ['read', 'write'],
      allowedClientIds: ['c1'],
      extraClaims: { tenant: 'acme', n: 1 },
    });
    expect(created).toMatchObject({ signingAlg: 'RS256', accessTokenTtlSeconds: null, supabase: null, extraClaims: { tenant: 'acme', n: 1 } });
    const v1 = await store.resourceServers.version();
    expect(v1).not.toBe(v0);
    const updated = await store.resourceServers.update('https://api.example/', { signingAlg: 'ES256', accessTokenTtlSeconds: 120, supabase: {} });
    expect(updated).toMatchObject({
      signingAlg: 'ES256',
      accessTokenTtlSeconds: 120,
      scopes: ['read', 'write'],
      supabase: { role: 'authenticated', audience: 'authenticated' },
    });
    expect(await store.resourceServers.version()).not.toBe(v1);
    expect((await store.resourceServers.update('https://api.example/', { supabase: null }))!.supabase).toBeNull();
    expect(await store.resourceServers.update('https://none.example/', { name: 'x' })).toBeNull();
    expect((await store.resourceServers.list()).map((r) => r.identifier)).toEqual(['https://api.example/']);
    expect(await store.resourceServers.delete('https://api.example/')).toBe(true);
    expect(await store.resourceServers.delete('https://api.example/')).toBe(false);
    expect(await store.resourceServers.find('https://api.example/')).toBeNull();
  });

  it('refuses bad input before SQL, and duplicates', async () => {
    const bad = [
      { identifier: 'relative/path', name: 'x' },
      { identifier: 'https://a.example/#f', name: 'x' },
      { identifier: `https://a.example/${'x'.repeat(600)}`, name: 'x' },
      { identifier: 'https://a.example/\u0000', name: 'x' },
      { identifier: 'https://a.example/', name: '' },
      { identifier: 'https://a.example/', name: 'x', scopes: ['openid'] },
      { identifier: 'https://a.example/', name: 'x', scopes: ['has space'] },
      { identifier: 'https://a.example/', name: 'x', accessTokenTtlSeconds: 5 },
      { identifier: 'https://a.example/', name: 'x', extraClaims: { sub: 'x' } },
      { identifier: 'https://a.example/', name: 'x', supabase: { role: 'drop table' } },
    ];
    for (const input of bad)
      await expect(store.resourceServers.create(input), JSON.stringify(input).slice(0, 80)).rejects.toBeInstanceOf(InvalidResourceServerError);
    await store.resourceServers.create({ identifier: 'urn:example:dup', name: 'dup' });
    await expect(store.resourceServers.create({ identifier: 'urn:example:dup', name: 'dup' })).rejects.toBeInstanceOf(DuplicateResourceServerError);
  });

  it('a client access-token alg, and resources kept with the family through code and refresh', async () => {
    const { client } = await store.clients.create({ name: 'RP', redirectUris: ['https://rp.example/cb'], accessTokenSignedResponseAlg: 'RS256' });
    expect(client.accessTokenSignedResponseAlg).toBe('RS256');
    expect(await store.clients.setAccessTokenAlg(client.clientId, null)).toBe(true);
    expect((await store.clients.find(client.clientId))!.accessTokenSignedResponseAlg).toBeNull();
    const user = await store.users.create({ email: 'rs@example.org', password: 'a long enough password' });
    const code = randomToken();
    const resources = ['https://a.example/', 'urn:b'];
    await store.grants.createAuthorizationCode({
      code,
      clientId: client.clientId,
      userId: user.id,
      sid: null,
      redirectUri: 'https://rp.example/cb',
      scope: ['openid', 'offline_access'],
      nonce: null,
      codeChallenge: null,
      codeChallengeMethod: null,
      authTime: new Date(),
      ttlSeconds: 60,
      resources,
    });
    const consumed = await store.grants.consumeAuthorizationCode(code);
    if (consumed.status !== 'ok') throw new Error(consumed.status);
    expect(consumed.grant.resources).toEqual(resources);
    const refresh = randomToken();
    await store.grants.issueRefreshToken({
      token: refresh,
      familyId: consumed.grant.familyId,
      clientId: client.clientId,
      userId: user.id,
      scope: ['openid'],
      ttlSeconds: 60,
    });
    expect((await store.grants.findRefreshToken(refresh))!.resources).toEqual(resources);
    const rotated = await store.grants.rotateRefreshToken(refresh, randomToken(), 60);
    if (rotated.status !== 'ok') throw new Error(rotated.status);
    expect(rotated.record.resources).toEqual(resources);
    const { familyId } = await store.grants.createFamily({ clientId: client.clientId, userId: null, scope: [] });
    expect(familyId).toBeTruthy();
  });
});
