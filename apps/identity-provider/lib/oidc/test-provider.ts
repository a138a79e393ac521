import { randomBytes } from 'node:crypto';
import {
  accessTokenSubjects,
  openIdentityStore,
  SystemDate,
  systemNow,
  type IdentityStore,
  type MailMessage,
  type MailTemplate,
  type NewClient,
  type NewResourceServer,
  type ResourceServer,
} from '@idp/database-identity';
import { providerSettings, type AppProvider } from '../container';
import { loadConfig } from '../env';
import { createRateLimiter } from '../security/rate-limit';
import type { AuditEvent } from './audit';
import { cachedClientRegistry } from './clients';
import { cachedKeyRing } from './keys';
import { cachedResourceRegistry } from './resources';
import type { RequestContext } from './ports';
import { sessionCookie, sessionCookieName } from './session';
import { VerifiedJwtCache } from './verified-jwts';
import { embeddedTemplate } from '@idp/database-identity/testing';

export const TEST_ISSUER = 'https://id.example';

/**
 * For in-process tests of the endpoints: a Provider wired as lib/container.ts wires it, on an in-memory
 * embedded database (real migrations, real keys, real registry), with the audit events kept in an array.
 */
export async function testProvider(): Promise<{
  provider: AppProvider;
  store: IdentityStore;
  events: AuditEvent[];
  /** Mails the provider sent (not queued: handed over at once). */
  mails: { template: MailTemplate; userId: string | null; message: MailMessage }[];
  ctx: RequestContext;
  /** A user with a live session, and the Cookie header of a browser signed in as them. */
  signIn(email?: string): Promise<{ userId: string; sid: string; cookie: string }>;
  client(input: NewClient): Promise<{ clientId: string; clientSecret: string | null }>;
  /** Registers a resource server and makes the registry see it at once. */
  resourceServer(input: NewResourceServer): Promise<ResourceServer>;
  /**
   * Moves the provider's clock and the database's `now()` forward together, so expiry (codes, refresh
   * tokens, access tokens) is reached without waiting. `reset()` goes back to the real time.
   */
  clock: { advance(seconds: number): Promise<void>; reset(): Promise<void> };
  close(): Promise<void>;
}> {
  const config = loadConfig({
    ISSUER_URL: TEST_ISSUER,
    SESSION_SECRET: randomBytes(48).toString('base64url'),
    KEY_ENCRYPTION_SECRET: randomBytes(48).toString('base64url'),
    DEMO_CLIENT: 'false',
    LOG_LEVEL: 'silent',
  });
  const store = await openIdentityStore({ keyEncryptionSecret: config.keyEncryptionSecret, embeddedTemplate: embeddedTemplate() });
  await store.keys.ensureActiveKeys(['RS256', 'ES256']);
  // the store's SQL says now(): a function of the same name earlier on the search path (one embedded
  // connection, so the setting holds for every query) adds the offset the test sets
  let offsetSeconds = 0;
  await store.db.query(`create schema test_clock`);
  await store.db.query(
    `create function test_clock.now() returns timestamptz language sql stable
       as $$ select pg_catalog.now() + make_interval(secs => coalesce(nullif(current_setting('test_clock.offset_seconds', true), ''), '0')::float8) $$`,
  );
  await store.db.query(`set search_path = test_clock, pg_catalog, public`);
  const setOffset = async (seconds: number) => {
    offsetSeconds = seconds;
    await store.db.query(`select set_config('test_clock.offset_seconds', $1, false)`, [String(seconds)]);
  };
  const events: AuditEvent[] = [];
  const mails: { template: MailTemplate; userId: string | null; message: MailMessage }[] = [];
  const clients = cachedClientRegistry(store.clients);
  const resources = cachedResourceRegistry(store.resourceServers);
  const provider: AppProvider = {
    settings: providerSettings(config),
    store,
    clients,
    resources,
    keys: cachedKeyRing(store.keys),
    verifiedJwts: new VerifiedJwtCache(),
    accessTokenSubjects: accessTokenSubjects(store),
    audit: { record: (event) => void events.push(event) },
    limiter: createRateLimiter({}),
    mail: { send: async (mail) => void mails.push(mail) },
    now: () => new SystemDate(systemNow() + offsetSeconds * 1000),
  };
  return {
    provider,
    store,
    events,
    mails,
    ctx: { requestId: 'test-request', ip: '192.0.2.1', userAgent: 'vitest' },
    async signIn(email = `user-${randomBytes(4).toString('hex')}@example.org`) {
      const user = await store.users.create({ email, password: randomBytes(12).toString('base64url') });
      const session = await store.sessions.create({ userId: user.id, ttlSeconds: 3600 });
      const cookie = (await sessionCookie({ sid: session.sid, csrf: randomBytes(24).toString('base64url'), interactions: {} }, provider.settings)).split(
        ';',
      )[0];
      if (!cookie.startsWith(`${sessionCookieName(provider.settings)}=`)) throw new Error('unexpected session cookie');
      return { userId: user.id, sid: session.sid, cookie };
    },
    async client(input) {
      const { client, clientSecret } = await store.clients.create(input);
      clients.invalidate();
      return { clientId: client.clientId, clientSecret };
    },
    async resourceServer(input) {
      const server = await store.resourceServers.create(input);
      resources.invalidate();
      return server;
    },
    clock: {
      advance: (seconds) => setOffset(offsetSeconds + seconds),
      reset: () => setOffset(0),
    },
    async close() {
      provider.accessTokenSubjects.close();
      await store.close();
    },
  };
}
