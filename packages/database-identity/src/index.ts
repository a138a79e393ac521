import { SecretBox } from './crypto/secrets';
import { openDatabase, type Database, type OpenDatabaseOptions } from './driver';
import { findMigrationsDir, migrate } from './migrate';
import { clientQueries } from './queries/clients';
import { resourceServerQueries } from './queries/resource-servers';
import { consentQueries } from './queries/consents';
import { grantQueries } from './queries/grants';
import { keyQueries } from './queries/keys';
import { sessionQueries } from './queries/sessions';
import { rateLimitQueries } from './queries/rate-limits';
import { auditQueries } from './audit/queries';
import { userQueries } from './queries/users';
import { authenticatorQueries } from './queries/authenticators';
import { analyticsQueries } from './queries/analytics';
import { revocationQueries, RevocationSignal } from './queries/revocation';
import { accountTokenQueries } from './queries/account-tokens';
import { mailQueueQueries } from './queries/mail-queue';
import { adminQueries } from './queries/admin';

export * from './clock';
export * from './driver';
export * from './migrate';
export * from './crypto/secrets';
export * from './queries/users';
export * from './queries/authenticators';
export * from './queries/clients';
export * from './queries/resource-servers';
export * from './queries/keys';
export * from './queries/sessions';
export * from './queries/consents';
export * from './queries/grants';
export * from './audit/writer';
export * from './audit/queries';
export * from './queries/rate-limits';
export * from './queries/analytics';
export * from './queries/revocation';
export * from './access-token-subjects';
export * from './queries/account-tokens';
export * from './queries/mail-queue';
export * from './queries/admin';

export interface IdentityStoreOptions extends OpenDatabaseOptions {
  /** Secret from which the digest and at-rest encryption keys are derived. */
  keyEncryptionSecret: string;
  /** Apply pending migrations on open (default true). */
  migrate?: boolean;
  migrationsDir?: string;
  /**
   * Connections of the analytics pool (Postgres only; default 2, on top of maxConnections). Token analytics
   * (the dashboard, sealing) run on a small pool of their own that does not close idle connections: a slow
   * report never holds a connection the token endpoint needs, and its sessions keep the analytics functions
   * compiled and planned (a session's first dashboard call plans them, about 55 ms at 10M events) until the
   * driver recycles them (every 30-60 minutes). Behind a transaction-mode pooler sessions are not kept anyway.
   */
  analyticsConnections?: number;
}

/** The data layer as one object: every query the app needs, over one database connection (pool). */
export interface IdentityStore {
  readonly db: Database;
  readonly box: SecretBox;
  readonly users: ReturnType<typeof userQueries>;
  /** Passkeys, TOTP, recovery codes, WebAuthn challenges, MFA policy rows. */
  readonly authenticators: ReturnType<typeof authenticatorQueries>;
  readonly clients: ReturnType<typeof clientQueries>;
  /** RFC 8707 resource servers (APIs) and their token settings. */
  readonly resourceServers: ReturnType<typeof resourceServerQueries>;
  readonly keys: ReturnType<typeof keyQueries>;
  readonly sessions: ReturnType<typeof sessionQueries>;
  readonly consents: ReturnType<typeof consentQueries>;
  readonly grants: ReturnType<typeof grantQueries>;
  readonly rateLimits: ReturnType<typeof rateLimitQueries>;
  readonly auditLog: ReturnType<typeof auditQueries>;
  readonly analytics: ReturnType<typeof analyticsQueries>;
  /** The revocation epoch, and in-process notice of revocations made through this store. */
  readonly revocations: ReturnType<typeof revocationQueries>;
  /** Password-reset and e-mail-verification links (digests only). */
  readonly accountTokens: ReturnType<typeof accountTokenQueries>;
  /** Outgoing mail, sealed at rest. */
  readonly mailQueue: ReturnType<typeof mailQueueQueries>;
  /** The admin console's lists and changes (paged, keyset). */
  readonly admin: ReturnType<typeof adminQueries>;
  close(): Promise<void>;
}

/** `analyticsDb`: where token analytics run (default: `db`); closed with the store. */
export function createIdentityStore(db: Database, keyEncryptionSecret: string, analyticsDb: Database = db): IdentityStore {
  const box = new SecretBox(keyEncryptionSecret);
  const revocations = new RevocationSignal();
  return {
    db,
    box,
    users: userQueries(db),
    authenticators: authenticatorQueries(db, box),
    clients: clientQueries(db, box),
    resourceServers: resourceServerQueries(db),
    keys: keyQueries(db, box),
    sessions: sessionQueries(db),
    consents: consentQueries(db),
    grants: grantQueries(db, box, revocations),
    rateLimits: rateLimitQueries(db),
    auditLog: auditQueries(db),
    analytics: analyticsQueries(analyticsDb),
    revocations: revocationQueries(db, revocations),
    accountTokens: accountTokenQueries(db),
    mailQueue: mailQueueQueries(db, box),
    admin: adminQueries(db, box, revocations),
    close: async () => {
      try {
        if (analyticsDb !== db) await analyticsDb.close();
      } finally {
        await db.close();
      }
    },
  };
}

/**
 * The analytics pool of a server database (see IdentityStoreOptions.analyticsConnections). Never for the
 * embedded database: a second PGlite on the same directory would corrupt it; there, analytics share `db`.
 */
export function openAnalyticsDatabase(options: OpenDatabaseOptions & { analyticsConnections?: number }): Promise<Database> {
  if (!options.databaseUrl) throw new Error('openAnalyticsDatabase needs a server database (databaseUrl)');
  return openDatabase({
    ...options,
    maxConnections: options.analyticsConnections ?? 2,
    idleTimeoutSeconds: 0,
    applicationName: 'identity-provider-analytics',
  });
}

export async function openIdentityStore(options: IdentityStoreOptions): Promise<IdentityStore> {
  const db = await openDatabase(options);
  try {
    if (options.migrate !== false) await migrate(db, options.migrationsDir ?? findMigrationsDir());
  } catch (error) {
    await db.close();
    throw error;
  }
  const analyticsDb = options.databaseUrl ? await openAnalyticsDatabase(options) : db;
  return createIdentityStore(db, options.keyEncryptionSecret, analyticsDb);
}
