import { accessTokenSubjects, AuditWriter, createIdentityStore, openIdentityStore, SystemDate, type IdentityStore } from '@idp/database-identity';
import { bootstrap } from './bootstrap';
import { MailWorker } from './mail/queue';
import { noTransport, outboxDir, outboxTransport, smtpTransport, type MailTransport } from './mail/transport';
import { loadConfig, type Config } from './env';
import { createLogger, type Logger } from './log';
import { applyRetention, ensurePartitions, MaintenanceScheduler, purgeExpired, sealRollups, type MaintenanceStatus } from './maintenance';
import { cachedClientRegistry } from './oidc/clients';
import { runKeyRotation, type KeyRotationDeps } from './oidc/key-rotation';
import { cachedKeyRing, type CachedKeyRing } from './oidc/keys';
import { cachedResourceRegistry } from './oidc/resources';
import type { Provider, ProviderSettings } from './oidc/ports';
import { VerifiedJwtCache } from './oidc/verified-jwts';
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
  /** The mail queue's delivery worker (also provider.mail). */
  mail: MailWorker;
  /** Prometheus metrics: request outcomes are counted by the HTTP edge, background work where it happens. */
  metrics: IdpMetrics;
  provider: AppProvider;
  /** The key ring behind provider.keys, with its lifecycle view (metrics). */
  keyRing: CachedKeyRing;
  /** What key rotation needs (lib/oidc/key-rotation.ts): scheduleKeyRotation(container.keyRotation, { alg }) rotates on request. */
  keyRotation: KeyRotationDeps;
  /** What readiness asks: are the client registry and the key ring loaded and fresh enough to issue tokens? */
  issuance(timeoutMs: number): Promise<IssuanceHealth>;
  version: string;
  startedAt: Date;
  /**
   * Periodic upkeep (lib/maintenance.ts: seal rollups, rotate signing keys, purge expired rows, audit partitions and
   * retention) every MAINTENANCE_INTERVAL_MS; started once per process by the host (server.ts or
   * instrumentation.ts), a second call is a no-op. Returns the stopper.
   */
  startMaintenance(): () => void;
  /** What the maintenance jobs did so far (readiness reports it). */
  maintenance(): MaintenanceStatus;
  close(): Promise<void>;
}

/**
 * The provider as the app holds it: the core sees `store` as its ProtocolStore (lib/oidc/store.ts); the app's
 * own services (the account API) reach the rest of the same request-path store.
 */
export type AppProvider = Provider & { store: IdentityStore };

export const APP_VERSION = '0.1.0';
/** Delivered and failed mail rows (no message left in them) are kept this long for the audit trail's sake. */
const MAIL_HISTORY_SECONDS = 30 * 86_400;

/** SMTP_URL when set; else the development outbox; in production without SMTP_URL, none (with a warning). */
export function mailTransport(config: Config, log: Logger): MailTransport {
  if (config.mail.smtpUrl) return smtpTransport(config.mail.smtpUrl, config.mail.from);
  if (!config.production) return outboxTransport(outboxDir(config), config.mail.from);
  log.warn('SMTP_URL is not set: password-reset and verification mails cannot be sent (they fail as mail.failed)');
  return noTransport();
}

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
    passwordMinLength: config.passwordMinLength,
    recovery: config.recovery,
    devOutbox: !config.production && !config.mail.smtpUrl,
    sessionSecret: config.sessionSecret,
    jwksMaxAgeSeconds: config.signingKeys.jwksMaxAgeSeconds,
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
    flushIntervalMs: config.audit.flushIntervalMs,
    batchSize: config.audit.batchSize,
    spoolDir: `${config.dataDir}/audit-spool`,
    onError: (error) => log.error('audit flush failed', { error }),
  });
  // the request path's view of the same pool: every statement bounded by DATABASE_QUERY_TIMEOUT_MS, so an
  // outage or a lock answers 503 in seconds; maintenance, migrations and the audit writer keep `store`
  // (analytics keep their own unbounded pool: reports may take longer)
  const requestStore: IdentityStore = {
    ...createIdentityStore(store.db.withDeadline(config.database.queryTimeoutMs), config.keyEncryptionSecret),
    analytics: store.analytics,
    close: store.close,
  };
  const onCacheError = (what: string) => (error: unknown) => log.warn(`${what} refresh failed; serving the last good copy`, { error });
  const clients = cachedClientRegistry(requestStore.clients, { checkEveryMs: config.intervals.clientRegistryMs, onError: onCacheError('client registry') });
  const keys = cachedKeyRing(requestStore.keys, { checkEveryMs: config.intervals.keyRingMs, onError: onCacheError('key ring') });
  const resources = cachedResourceRegistry(requestStore.resourceServers, {
    checkEveryMs: config.intervals.clientRegistryMs,
    onError: onCacheError('resource registry'),
  });
  // loaded before the first request: readiness then reports them from the start
  await Promise.all([clients.origins(), keys.jwks(), resources.index()]);
  const metrics = createMetrics({ registeredClientIds: () => clients.ids() });
  // audit events pass the abuse detector on their way to the writer
  const auditSink = withSuspicionDetection(config.auditWriter === 'off' ? { record: () => {} } : audit);
  const mail = new MailWorker({
    enqueueTo: requestStore.mailQueue,
    queue: store.mailQueue,
    transport: mailTransport(config, log),
    audit: auditSink,
    metrics,
    onError: (error) => log.warn('mail delivery round failed', { error }),
  });
  // the data package's store is the core's ProtocolStore as it is (the compiler checks it here)
  const provider: AppProvider = {
    settings: providerSettings(config),
    store: requestStore,
    clients,
    resources,
    keys,
    verifiedJwts: new VerifiedJwtCache(),
    // changes made by this process are seen at once; by other instances within the epoch poll (500 ms)
    accessTokenSubjects: accessTokenSubjects(requestStore, { pollMs: config.intervals.revocationEpochMs }),
    audit: auditSink,
    // counters shared through the database on a server; one process owns the embedded one anyway
    limiter: createRateLimiter({
      shared: config.database.url ? store.rateLimits : undefined,
      syncEveryMs: config.intervals.rateLimitSyncMs,
      onError: (error) => log.warn('rate limit sync failed', { error }),
    }),
    mail,
    now: () => new SystemDate(),
  };
  const stopMail = mail.start();
  // rotation writes through the unbounded store (maintenance) and audits through the provider's sink
  const keyRotation: KeyRotationDeps = {
    keys: store.keys,
    audit: provider.audit,
    policy: config.signingKeys,
    jwksMaxAgeSeconds: config.signingKeys.jwksMaxAgeSeconds,
    ring: keys,
    log,
  };
  const maintenance = new MaintenanceScheduler({
    everyMs: config.intervals.maintenanceMs,
    log,
    // the jobs of one round, in this order (sealing before retention drops a month); a new job is one line here
    jobs: {
      sealRollups: () => sealRollups(store),
      // publishes successors when due, records activations, retires (and audits) keys past their window
      signingKeys: () => runKeyRotation(keyRotation),
      purgeExpired: () => purgeExpired(store, config.ttl.accessToken),
      purgeAccountMail: async () => ({
        purgedAccountTokens: await store.accountTokens.purgeExpired(),
        purgedMails: await store.mailQueue.purgeFinished(MAIL_HISTORY_SECONDS),
      }),
      purgeAuthenticatorChallenges: async () => ({ purgedChallenges: await store.authenticators.purgeExpired() }),
      ensurePartitions: () => ensurePartitions(store),
      applyRetention: () => applyRetention(store),
    },
  });
  return {
    config,
    log,
    store,
    audit,
    mail,
    metrics,
    provider,
    keyRing: keys,
    keyRotation,
    version: APP_VERSION,
    startedAt: new Date(),
    async issuance(timeoutMs) {
      // each cache gets its check when one is due (a probe may be the only caller for a while), within the timeout
      const settle = (check: Promise<unknown>) => Promise.race([check.catch(() => {}), new Promise((ok) => setTimeout(ok, timeoutMs).unref())]);
      await Promise.all([settle(clients.origins()), settle(keys.jwks())]);
      return { registry: clients.health(), keys: keys.health() };
    },
    startMaintenance: () => maintenance.start(),
    maintenance: () => maintenance.status(),
    close: async () => {
      maintenance.stop();
      stopMail();
      await mail.idle();
      provider.accessTokenSubjects.close();
      await audit.close();
      await store.close();
    },
  };
}

// The process's container. This module is loaded once per process (the core, dist/core.mjs: lib/core.ts says
// how both mounts reach it), so a module variable is the one instance the embedded database requires.
let current: Promise<Container> | undefined;
let customServerHosts = false;

/** The process's container, created on first use (serverless) or installed by the server at start. */
export function getContainer(): Promise<Container> {
  current ??= createContainer();
  return current;
}

/** Installs the container server.ts built, and marks server.ts as this process's host (instrumentation.ts then stands back). */
export function installContainer(container: Promise<Container>): void {
  current = container;
  customServerHosts = true;
}

/** Whether server.ts runs this process (it starts maintenance itself), rather than Next's own server. */
export function customServerIsHost(): boolean {
  return customServerHosts;
}
