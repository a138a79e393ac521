import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, DuplicateEmailError, verifyPassword, type IdentityStore } from '../../src';
import { driversUnderTest } from './harness';

const KEY_SECRET = 'k'.repeat(16) + 'contract-suite-key-material';

describe.each(driversUnderTest())('identity store on $name', (driver) => {
  let store: IdentityStore;

  beforeAll(async () => {
    const db = await driver.openMigrated();
    store = createIdentityStore(db, KEY_SECRET);
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  it('a transaction that throws leaves nothing behind', async () => {
    await expect(
      store.db.transaction(async (tx) => {
        await tx.query(`insert into identity.users (email, password_hash) values ('rollback@example.org', 'x')`);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    const rows = await store.db.query(`select 1 from identity.users where email = 'rollback@example.org'`);
    expect(rows).toEqual([]);
  });

  it('treats emails case-insensitively: one account per address', async () => {
    const user = await store.users.create({ email: 'Alice@Example.org', password: 'correct horse battery staple' });
    await expect(store.users.create({ email: 'alice@example.ORG', password: 'another long password' })).rejects.toBeInstanceOf(DuplicateEmailError);
    const found = await store.users.findByEmailForLogin('ALICE@example.org');
    expect(found?.id).toBe(user.id);
  });

  it('stores passwords only as a memory-hard hash', async () => {
    const password = 'a password nobody should ever see';
    const user = await store.users.create({ email: 'bob@example.org', password });
    const [raw] = await store.db.query<Record<string, unknown>>(`select * from identity.users where id = $1`, [user.id]);
    const text = JSON.stringify(raw);
    expect(text).not.toContain(password);
    expect(String(raw.password_hash)).toMatch(/^scrypt\$32768\$8\$1\$/);
    expect(await verifyPassword(password, String(raw.password_hash))).toBe(true);
    expect(await verifyPassword('wrong', String(raw.password_hash))).toBe(false);
  });

  it('stores client secrets only as a keyed digest and verifies them', async () => {
    const { client, clientSecret } = await store.clients.create({
      name: 'Confidential app',
      redirectUris: ['https://app.example.org/callback'],
    });
    expect(clientSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const [raw] = await store.db.query<Record<string, unknown>>(`select * from identity.oauth_clients where client_id = $1`, [client.clientId]);
    expect(JSON.stringify(raw)).not.toContain(clientSecret!);
    expect(store.box.matchesDigest(clientSecret!, String(raw.client_secret_hash))).toBe(true);
    expect(store.box.matchesDigest(clientSecret! + 'x', String(raw.client_secret_hash))).toBe(false);
  });

  it('public clients have no secret', async () => {
    const { client, clientSecret } = await store.clients.create({ name: 'SPA', tokenEndpointAuthMethod: 'none' });
    expect(clientSecret).toBeNull();
    expect(client.clientSecretHash).toBeNull();
  });

  it('keeps signing keys encrypted at rest and rotates them, keeping the old key published', async () => {
    await store.keys.ensureActiveKeys(['RS256', 'ES256']);
    expect(await store.keys.ensureActiveKeys(['RS256', 'ES256'])).toEqual([]);
    const raw = await store.db.query<Record<string, unknown>>(`select * from identity.signing_keys`);
    for (const row of raw) {
      expect(String(row.private_key_encrypted)).toMatch(/^v1\./);
      expect(JSON.stringify(row.public_jwk)).not.toMatch(/"d":/);
      expect(String(row.private_key_encrypted)).not.toMatch(/"d":/);
    }
    const [activeEs] = (await store.keys.loadActive()).filter((k) => k.alg === 'ES256');
    expect(activeEs.privateJwk.d).toBeTypeOf('string');

    const fresh = await store.keys.rotateImmediately('ES256', 3600);
    const published = await store.keys.listPublished();
    expect(published.map((k) => k.kid)).toEqual(expect.arrayContaining([fresh.key.kid, activeEs.kid]));
    expect(published.find((k) => k.kid === activeEs.kid)?.state).toBe('retiring');
    expect(await store.keys.retireExpired()).toBe(0);

    // kept published for 0 s: the replaced key is retired in the same step
    const second = await store.keys.rotateImmediately('ES256', 0);
    expect(second.retired.map((k) => k.kid)).toEqual([fresh.key.kid]);
    const afterRetire = await store.keys.listPublished();
    expect(afterRetire.map((k) => k.kid)).not.toContain(fresh.key.kid);
    expect(afterRetire.filter((k) => k.alg === 'ES256' && k.state === 'active')).toHaveLength(1);
  });

  it("serves the story's get_token_stats and token_analytics names", async () => {
    await store.db.query(
      `insert into identity.audit_logs (action, user_id, client_id, grant_type) values
         ('token.issued.authorization_code', gen_random_uuid(), 'a', 'authorization_code'),
         ('token.refreshed', null, 'a', 'refresh_token'),
         ('token.validation_failed', null, 'b', 'authorization_code')`,
    );
    const [stats] = await store.db.query(`select * from identity.get_token_stats(now() - interval '1 hour', now() + interval '1 hour')`);
    expect(stats).toEqual({ total_issued: 1, total_refreshed: 1, total_failed: 1, unique_users: 1, unique_clients: 2 });
    const [forA] = await store.db.query(`select * from identity.get_token_stats(now() - interval '1 hour', now() + interval '1 hour', 'a')`);
    expect(forA).toMatchObject({ total_issued: 1, total_failed: 0, unique_clients: 1 });
    const daily = await store.db.query(`select action, count from identity.token_analytics order by action`);
    expect(daily).toEqual([
      { action: 'token.issued.authorization_code', count: 1 },
      { action: 'token.refreshed', count: 1 },
      { action: 'token.validation_failed', count: 1 },
    ]);
  });
});
