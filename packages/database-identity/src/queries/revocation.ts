import type { Queryable } from '../driver';

/**
 * Tells listeners in this process that the store just revoked something or changed a user's claims, so an
 * in-memory view (accessTokenSubjects) re-reads the epoch before its next answer.
 */
export class RevocationSignal {
  private readonly listeners = new Set<() => void>();

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  notify(): void {
    for (const listener of this.listeners) listener();
  }

  /** Awaits a change, then notifies, also when it failed (it may have committed before the error). */
  async after<T>(change: Promise<T>): Promise<T> {
    try {
      return await change;
    } finally {
      this.notify();
    }
  }
}

/**
 * SQL condition: the access token with jti `jti` (from family `familyId`; both SQL parameter references, the
 * family typed uuid or null) is revoked, individually or through its family. A family that no longer exists
 * counts as revoked: it was deleted with its user or client (or purged long after expiry).
 */
export const accessTokenRevokedSql = (jti: string, familyId: string) =>
  `(exists (select 1 from identity.revoked_tokens where jti = ${jti})
    or (${familyId}::uuid is not null
        and not exists (select 1 from identity.token_families where id = ${familyId}::uuid and revoked_at is null)))`;

/**
 * identity.revocation_epoch moves (triggers, in the same transaction) on every change that can turn a live
 * access token dead or change what userinfo says about its subject: a revoked jti, a revoked or deleted
 * family, a deleted user or a changed claim column. An answer read at epoch N stays true while it is N.
 */
export function revocationQueries(db: Queryable, signal: RevocationSignal) {
  return {
    async epoch(): Promise<number> {
      const [row] = await db.query<{ epoch: number }>(`select epoch from identity.revocation_epoch`);
      return Number(row.epoch);
    },

    /** Calls `listener` after every revocation or claim change made through this store; returns an unsubscriber. */
    onChange: (listener: () => void): (() => void) => signal.subscribe(listener),
  };
}

export type RevocationQueries = ReturnType<typeof revocationQueries>;
