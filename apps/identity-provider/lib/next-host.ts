import { customServerIsHost, getContainer } from './container';

/**
 * What server.ts does at start, for a process that Next's own server hosts (called from instrumentation.ts):
 * the container, the maintenance loop, and the audit queue spooled on exit. Nothing when server.ts is the host.
 */
export async function startOnNextHost(): Promise<void> {
  if (customServerIsHost()) return;
  const container = await getContainer();
  container.startMaintenance();
  // Next ends the process on SIGTERM without waiting for us: what the database has not acknowledged is
  // appended to the fsync'd spool (synchronously: 'exit' listeners cannot wait) and written at the next start
  process.once('exit', () => container.audit.spoolPending());
  container.log.info('identity provider started in Next', { database: container.store.db.kind, maintenanceEveryMs: container.config.intervals.maintenanceMs });
}
