import type { IdentityStore } from './index';
import type { AccessTokenSubject } from './queries/users';
import { systemNow } from './clock';

/** Subject and revocation state of access tokens, answered from memory when it is known to be current. */
export interface AccessTokenSubjects {
  /** `userId` null: the token's subject is a client (client_credentials), only revocation matters. */
  lookup(userId: string | null, jti: string, familyId: string | null): Promise<AccessTokenSubject>;
  /** Stops listening to the store. */
  close(): void;
}

export interface AccessTokenSubjectsOptions {
  /** How often the revocation epoch is re-read at most: the bound on how late a change by another instance is seen. */
  pollMs?: number;
  maxEntries?: number;
  now?: () => number;
}

/**
 * Answers (user, revoked) for (user, jti, family), positive and negative, from a bounded map, valid for one
 * value of identity.revocation_epoch. Every answer is read together with the epoch of its snapshot and kept
 * only if that is the epoch the map belongs to; when a newer epoch shows up, the map is emptied.
 *
 * Freshness: a revocation or claim change made through this store (same process) is seen by the very next
 * lookup (the store's signal forces an epoch read first). One made by another instance, the CLI or SQL is
 * seen within `pollMs` (plus one query's latency): the epoch is re-read at most that often, by one query
 * shared among concurrent lookups.
 */
export function accessTokenSubjects(
  store: Pick<IdentityStore, 'users' | 'revocations'>,
  { pollMs = 500, maxEntries = 10_000, now = systemNow }: AccessTokenSubjectsOptions = {},
): AccessTokenSubjects {
  let answers = new Map<string, AccessTokenSubject>();
  /** Misses being looked up, shared by concurrent lookups of the same token; dropped with the answers. */
  let pending = new Map<string, Promise<AccessTokenSubject>>();
  let epoch = -1;
  let checkedAt = -Infinity;
  /** Counts in-process changes: an epoch read that started before the latest one does not make us fresh. */
  let changes = 0;
  let polling: Promise<void> | null = null;

  const adopt = (seen: number) => {
    // epochs only grow; an older reading (a slow query) must not roll the map back
    if (seen > epoch) {
      epoch = seen;
      answers = new Map();
      pending = new Map();
    }
  };

  const poll = (): Promise<void> => {
    const startedAt = now();
    const changesAtStart = changes;
    const run: Promise<void> = store.revocations
      .epoch()
      .then((seen) => {
        adopt(seen);
        if (changes === changesAtStart) checkedAt = startedAt;
      })
      .finally(() => {
        if (polling === run) polling = null;
      });
    return run;
  };

  const unsubscribe = store.revocations.onChange(() => {
    changes++;
    checkedAt = -Infinity;
    // an epoch read already on its way may predate the change: the next lookup starts its own
    polling = null;
    pending = new Map();
  });

  const fetchAnswer = async (key: string, userId: string | null, jti: string, familyId: string | null, into: Map<string, Promise<AccessTokenSubject>>) => {
    try {
      const row = await store.users.findAccessTokenSubject(userId, jti, familyId);
      adopt(row.epoch);
      // shared by every request that hits it
      const answer = Object.freeze({ user: row.user && Object.freeze(row.user), revoked: row.revoked });
      if (row.epoch === epoch) {
        if (answers.size >= maxEntries) answers.delete(answers.keys().next().value!);
        answers.set(key, answer);
      }
      return answer;
    } finally {
      into.delete(key);
    }
  };

  return {
    async lookup(userId, jti, familyId) {
      if (now() - checkedAt >= pollMs) await (polling ??= poll());
      const key = `${userId ?? ''}|${jti}|${familyId ?? ''}`;
      const known = answers.get(key);
      if (known) return known;
      let inFlight = pending.get(key);
      if (!inFlight) {
        inFlight = fetchAnswer(key, userId, jti, familyId, pending);
        pending.set(key, inFlight);
      }
      return inFlight;
    },
    close: unsubscribe,
  };
}
