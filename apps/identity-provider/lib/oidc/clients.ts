import type { OAuthClient } from './domain';
import type { ClientSource } from './store';
import { originsOf } from './cors';
import { PollingSnapshot, snapshotOptions, type SnapshotHealth, type SnapshotTiming } from './polling-snapshot';
import type { ClientRegistry } from './ports';

const NO_IDS: ReadonlySet<string> = new Set();

interface Registry {
  version: string;
  byId: Map<string, OAuthClient>;
  origins: ReadonlySet<string>;
  // rebuilt with the map: metrics ask for it on every token issued
  ids: ReadonlySet<string>;
}

/**
 * Clients cached in memory. Every `checkEveryMs` at most, one cheap query compares the table's
 * fingerprint (max updated_at, count) and reloads on change, so a client registered or changed by any
 * instance is seen within that interval without a query per request. A slow or locked table delays no
 * request while the registry is younger than `maxStaleMs` (see PollingSnapshot).
 */
export function cachedClientRegistry(queries: ClientSource, timing: SnapshotTiming = {}): ClientRegistry & { invalidate(): void; health(): SnapshotHealth } {
  const snapshot = new PollingSnapshot<Registry>(
    async (previous) => {
      const version = await queries.version();
      if (previous && previous.version === version) return previous;
      // a disabled client is unknown to every endpoint (its row stays, so it can be enabled again)
      const clients = (await queries.list()).filter((client) => !client.disabledAt);
      const byId = new Map(clients.map((client) => [client.clientId, client]));
      return { version, byId, origins: originsOf(clients.flatMap((client) => client.redirectUris)), ids: new Set(byId.keys()) };
    },
    snapshotOptions(timing, 2000),
  );

  const get = async (clientId: string): Promise<OAuthClient | null> => {
    const client = (await snapshot.get()).byId.get(clientId);
    // a miss may be a client registered moments ago elsewhere: look again (PollingSnapshot bounds how often)
    const recheck = client ? null : snapshot.refreshAfterMiss();
    if (recheck) return (await recheck).byId.get(clientId) ?? null;
    return client ?? null;
  };

  // while the registry is fresh, each known client's answer is one settled promise: no new promise per
  // request (each costs a hook call while Next.js's AsyncLocalStorage is enabled in the process)
  let settled: { of: Registry; answers: Map<string, Promise<OAuthClient>> } | null = null;

  return {
    get(clientId) {
      const registry = snapshot.fresh();
      const client = registry?.byId.get(clientId);
      if (!registry || !client) return get(clientId);
      if (settled?.of !== registry) settled = { of: registry, answers: new Map() };
      let answer = settled.answers.get(clientId);
      if (!answer) settled.answers.set(clientId, (answer = Promise.resolve(client)));
      return answer;
    },
    async origins() {
      return (await snapshot.get()).origins;
    },
    ids() {
      return snapshot.current()?.ids ?? NO_IDS;
    },
    invalidate() {
      snapshot.invalidate();
    },
    health: () => snapshot.health(),
  };
}
