import type { ResourceServer } from './domain';
import type { ResourceServerSource } from './store';
import { PollingSnapshot, snapshotOptions, type SnapshotHealth, type SnapshotTiming } from './polling-snapshot';
import type { ResourceIndex, ResourceRegistry } from './ports';

/**
 * Resource servers (RFC 8707) cached in memory, as the client registry is (clients.ts): a cheap fingerprint
 * query at most every `checkEveryMs`, a reload when it moved, and the last good copy served while the
 * database is slow (PollingSnapshot). The token endpoint therefore makes no database round trip for them.
 */
export function cachedResourceRegistry(
  queries: ResourceServerSource,
  timing: SnapshotTiming = {},
): ResourceRegistry & { invalidate(): void; health(): SnapshotHealth } {
  const snapshot = new PollingSnapshot<ResourceIndex & { version: string }>(
    async (previous) => {
      const version = await queries.version();
      if (previous && previous.version === version) return previous;
      return { version, ...indexOf(await queries.list()) };
    },
    snapshotOptions(timing, 2000),
  );
  // one settled promise per loaded index: no new promise per request while it is fresh (see clients.ts)
  let settled: { of: ResourceIndex; answer: Promise<ResourceIndex> } | null = null;

  return {
    index(identifiers = []) {
      const fresh = snapshot.fresh();
      if (fresh && identifiers.every((id) => fresh.byIdentifier.has(id))) {
        if (settled?.of !== fresh) settled = { of: fresh, answer: Promise.resolve(fresh) };
        return settled.answer;
      }
      return (async () => {
        const index = await snapshot.get();
        // an identifier we do not know may have been registered moments ago elsewhere: look again (bounded by PollingSnapshot)
        const recheck = identifiers.some((id) => !index.byIdentifier.has(id)) ? snapshot.refreshAfterMiss() : null;
        return recheck ?? index;
      })();
    },
    invalidate() {
      snapshot.invalidate();
    },
    health: () => snapshot.health(),
  };
}

export function indexOf(servers: ResourceServer[]): ResourceIndex {
  const byIdentifier = new Map(servers.map((server) => [server.identifier, server]));
  const scopeOwners = new Map<string, string[]>();
  for (const server of servers) for (const scope of server.scopes) scopeOwners.set(scope, [...(scopeOwners.get(scope) ?? []), server.identifier]);
  return { byIdentifier, scopeOwners, targets: new Map() };
}
