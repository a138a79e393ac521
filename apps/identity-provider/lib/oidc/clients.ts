import { systemNow, type ClientQueries, type OAuthClient } from '@idp/database-identity';
import { originsOf } from './cors';
import type { ClientRegistry } from './ports';

/**
 * Clients cached in memory. Every `checkEveryMs` at most, one cheap query compares the table's
 * fingerprint (max updated_at, count) and reloads on change, so a client registered or changed by any
 * instance is seen within that interval without a query per request.
 */
export function cachedClientRegistry(queries: ClientQueries, checkEveryMs = 2000, now = systemNow): ClientRegistry & { invalidate(): void } {
  let byId = new Map<string, OAuthClient>();
  let origins: ReadonlySet<string> = new Set();
  // rebuilt with the map: metrics ask for it on every token issued
  let ids: ReadonlySet<string> = new Set();
  let version: string | null = null;
  let checkedAt = 0;
  let inflight: Promise<void> | null = null;

  const refresh = async () => {
    const current = await queries.version();
    if (current !== version) {
      const clients = await queries.list();
      byId = new Map(clients.map((client) => [client.clientId, client]));
      origins = originsOf(clients.flatMap((client) => client.redirectUris));
      ids = new Set(byId.keys());
      version = current;
    }
    checkedAt = now();
  };

  /** One refresh at a time; concurrent callers share it. */
  const reload = () => (inflight ??= refresh().finally(() => (inflight = null)));

  // while the registry is fresh, each known client's answer is one settled promise: no new promise per
  // request (each costs a hook call while Next.js's AsyncLocalStorage is enabled in the process)
  let settled: { of: Map<string, OAuthClient>; answers: Map<string, Promise<OAuthClient>> } | null = null;
  const get = async (clientId: string): Promise<OAuthClient | null> => {
    if (now() - checkedAt >= checkEveryMs) await reload();
    const client = byId.get(clientId);
    // a miss may be a client registered moments ago elsewhere: look again, at most every 250 ms
    if (!client && now() - checkedAt > 250) {
      await reload();
      return byId.get(clientId) ?? null;
    }
    return client ?? null;
  };

  return {
    get(clientId) {
      const client = now() - checkedAt < checkEveryMs ? byId.get(clientId) : undefined;
      if (!client) return get(clientId);
      if (settled?.of !== byId) settled = { of: byId, answers: new Map() };
      let answer = settled.answers.get(clientId);
      if (!answer) settled.answers.set(clientId, (answer = Promise.resolve(client)));
      return answer;
    },
    async origins() {
      if (now() - checkedAt >= checkEveryMs) await reload();
      return origins;
    },
    ids() {
      return ids;
    },
    invalidate() {
      checkedAt = 0;
    },
  };
}
