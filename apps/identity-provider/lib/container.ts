import { accessTokenSubjects, AuditWriter, createIdentityStore, openIdentityStore, SystemDate, type IdentityStore } from '@idp/database-identity';
import { bootstrap } from './bootstrap';
import { loadConfig, type Config } from './env';
import { createLogger, type Logger } from './log';
import { cachedClientRegistry } from './oidc/clients';
import { cachedKeyRing } from './oidc/keys';
import type { Provider, ProviderSettings } from './oidc/ports';
import { VerifiedJwtCache } from './oidc/verified-jwts';
import { withMetrics } from './observability/audit-metrics';
import { createMetrics, type IdpMetrics } from './observability/metrics';
import type { IssuanceHealth } from './observability/readiness';
import { createRateLimiter } from './security/rate-limit';
import { withSuspicionDetection } from './security/suspicion';

/** Everything the app needs at run time, built once per process. */
export interface Container {
  config: Config;
  log: Logger;
  store: IdentityStore;
  audit: AuditWriter;
  /** Prometheus metrics; protocol outcomes are counted from the audit events (provider.audit). */
  metrics: IdpMetrics;
  provider: Provider;
  /** What readiness asks: are the client registry and the key ring loaded and fresh enough to issue tokens? */
  issuance(timeoutMs: number): Promise<IssuanceHealth>;
  version: string;
  startedAt: Date;
  /** Periodic upkeep (retire keys past their publication window, purge expired grants, audit partitions and retention); returns a stopper. */
  startMaintenance(everyMs?: number): () => void;
  close(): Promise<void>;
}

export const APP_VERSION = '0.1.0';

// One container per process, shared through globalThis: the custom server and Next's separately bundled
// route handlers must not open the embedded database twice.
const KEY = Symbol.for('identity-provider.container');
type Holder = { [KEY]?: Promise<Container> };

export function providerSettings(config: Config): ProviderSettings {
  const issuer = new URL(config.issuer);
  return {
    issuer: config.issuer,
    accessTokenAudience: config.issuer,
    accessTokenAlg: 'ES256',
    ttl: config.ttl,
    login: config.login,
    mfa: config.mfa,
    rateLimits: config.rateLimits,
    sessionSecret: config.sessionSecret,
    secureCookies: issuer.protocol === 'https:',
  };
}

export async function createContainer(config: Config = loadConfig()): Promise<Container> {
  const log = createLogger(config.logLevel, { service: 'identity-provider' });
  const store = await openIdentityStore({
    databaseUrl: config.database.url,
    dataDir: config.database.url ? undefined : `${config.dataDir}/pglite`,
    maxConnections: config.database.poolMax,
    analyticsConnections: config.database.analyticsPoolMax,
    connectTimeoutSeconds: config.database.connectTimeoutSeconds,
    statementTimeoutMs: config.database.statementTimeoutMs,
    keyEncryptionSecret: config.keyEncryptionSecret,
  });
  await bootstrap(store, config, log);
  // analytics settings that follow the configuration: retention, and how far back a revoked access token's
  // issuing event is looked up (at least the access token lifetime)
  await store.analytics.updateSettings({ rawRetentionDays: config.auditRetentionDays, revocationLookbackSeconds: Math.max(900, config.ttl.accessToken) });
  const audit = new AuditWriter(store.db, {
    spoolDir: `${config.dataDir}/audit-spool`,
    onError: (error) => log.error('audit flush failed', { error }),
  });
  // the request path's view of the same pool: every statement bounded by DATABASE_QUERY_TIMEOUT_MS, so an
  // outage or a lock answers 503 in seconds; maintenance, migrations and the audit writer keep `store`
  // (analytics keep their own unbounded pool: reports may take longer)
  const requestStore: IdentityStore = { ...createIdentityStore(store.db.withDeadline(config.database.queryTimeoutMs), config.keyEncryptionSecret), analytics: store.analytics, close: store.close };
  const onCacheError = (what: string) => (error: unknown) => log.warn(`${what} refresh failed; serving the last good copy`, { error });
  const clients = cachedClientRegistry(requestStore.clients, { onError: onCacheError('client registry') });
  const keys = cachedKeyRing(requestStore.keys, { onError: onCacheError('key ring') });
  // loaded before the first request: readiness then reports them from the start
  await Promise.all([clients.origins(), keys.jwks()]);
  const metrics = createMetrics({ registeredClientIds: () => clients.ids() });
  const provider: Provider = {
    settings: providerSettings(config),
    store: requestStore,
    clients,
    keys,
    verifiedJwts: new VerifiedJwtCache(),
    // changes made by this process are seen at once; by other instances within the 500 ms epoch poll
    accessTokenSubjects: accessTokenSubjects(requestStore),
    // audit events are counted into the metrics and pass the abuse detector on their way to the writer
    audit: withMetrics(withSuspicionDetection(config.auditWriter === 'off' ? { record: () => {} } : audit), metrics),
    // counters shared through the database on a server; one process owns the embedded one anyway
    limiter: createRateLimiter({ shared: config.database.url ? store.rateLimits : undefined, onError: (error) => log.warn('rate limit sync failed', { error }) }),
    now: () => new SystemDate(),
  };
  const maintain = async () => {
    // token rollups: sealed here, off the audit writer's path (the trigger takes over if this stops running)
    try {
      const hoursSealed = await store.analytics.sealInBackground();
      if (hoursSealed > 1) log.info('maintenance', { rollupHoursSealed: hoursSealed });
    } catch (error) {
      log.error('rollup sealing failed', { error });
    }
    try {
      const retired = await store.keys.retireExpired();
      const purged = (await store.grants.purgeExpired(Math.max(86_400, config.ttl.accessToken * 2))) + (await store.rateLimits.purgeExpired()) + (await store.users.purgeLoginThrottles()) + (await store.authenticators.purgeExpired());
      // audit_logs: monthly partitions ahead of time, and raw months past the retention dropped (sealed first)
      const partitionsCreated = await store.analytics.ensurePartitions();
      const partitionsDropped = await store.analytics.applyRetention();
      if (retired || purged || partitionsCreated || partitionsDropped) {
        log.info('maintenance', { retiredKeys: retired, purgedRows: purged, auditPartitionsCreated: partitionsCreated, auditPartitionsDropped: partitionsDropped });
      }
    } catch (error) {
      log.error('maintenance failed', { error });
    }
  };
  return {
    config, log, store, audit, metrics, provider, version: APP_VERSION, startedAt: new Date(),
    async issuance(timeoutMs) {
      // each cache gets its check when one is due (a probe may be the only caller for a while), within the timeout
      const settle = (check: Promise<unknown>) => Promise.race([check.catch(() => {}), new Promise((ok) => setTimeout(ok, timeoutMs).unref())]);
      await Promise.all([settle(clients.origins()), settle(keys.jwks())]);
      return { registry: clients.health(), keys: keys.health() };
    },
    startMaintenance(everyMs = 60_000) {
      const timer = setInterval(() => void maintain(), everyMs);
      timer.unref();
      return () => clearInterval(timer);
    },
    close: async () => {
      provider.accessTokenSubjects.close();
      await audit.close();
      await store.close();
    },
  };
}

/** The process's container, created on first use (serverless) or installed by the server at start. */
export function getContainer(): Promise<Container> {
  const holder = globalThis as Holder;
  holder[KEY] ??= createContainer();
  return holder[KEY];
}

export function installContainer(container: Promise<Container>): void {
  (globalThis as Holder)[KEY] = container;
}
