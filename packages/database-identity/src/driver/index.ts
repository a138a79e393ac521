import { openEmbedded } from './pglite';
import { openServer } from './postgres';
import type { Database } from './types';

export type { Database, Queryable, DriverKind } from './types';
export { DatabaseUnavailable, isDatabaseUnavailable } from './types';
export { DataDirInUseError } from './pglite';

export interface OpenDatabaseOptions {
  /** Postgres/Supabase connection string; when absent the embedded database is used. */
  databaseUrl?: string;
  /** Embedded data directory; absent means in-memory. */
  dataDir?: string;
  /** Embedded only: a migrated dump to start an empty database from (tests; see src/testing.ts). */
  embeddedTemplate?: Blob;
  maxConnections?: number;
  connectTimeoutSeconds?: number;
  statementTimeoutMs?: number;
  /** Seconds an idle server connection stays open (default 60; 0 keeps it). */
  idleTimeoutSeconds?: number;
  /** application_name of the server connections (pg_stat_activity). */
  applicationName?: string;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.databaseUrl) {
    return openServer({
      url: options.databaseUrl,
      maxConnections: options.maxConnections,
      connectTimeoutSeconds: options.connectTimeoutSeconds,
      statementTimeoutMs: options.statementTimeoutMs,
      idleTimeoutSeconds: options.idleTimeoutSeconds,
      applicationName: options.applicationName,
    });
  }
  return openEmbedded({ dataDir: options.dataDir, template: options.embeddedTemplate });
}
