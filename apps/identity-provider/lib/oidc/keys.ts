import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import { systemNow, type KeyState, type SigningAlg } from './domain';
import type { SigningKeySource } from './store';
import type { KeyObject } from 'node:crypto';
import { PollingSnapshot, snapshotOptions, type SnapshotHealth, type SnapshotTiming } from './polling-snapshot';
import type { KeyRing, SigningKeyHandle } from './ports';

/** A key as the ring holds it; times are on this process's clock (the database's, shifted by the measured offset). */
interface RingKey {
  kid: string;
  alg: SigningAlg;
  activatesAtMs: number;
  retireAfterMs: number;
  /** Database times, for reports. */
  activatesAt: Date;
  retireAfter: Date | null;
  /** Only for keys that sign now or will (next and active when loaded). */
  signing: SigningKeyHandle | null;
  verifying: { alg: string; key: KeyObject; jwk: string };
  publicJwk: Record<string, string>;
}

/** What the ring serves between two lifecycle instants (an activation or a retirement): no work per request. */
interface View {
  from: number;
  until: number;
  signing: Map<SigningAlg, SigningKeyHandle>;
  verifying: Map<string, { alg: string; key: KeyObject }>;
  jwks: { body: string; etag: string };
}

/** One key's place in the lifecycle as this instance sees it now (metrics, the admin console). */
export interface KeyScheduleEntry {
  kid: string;
  alg: SigningAlg;
  state: Exclude<KeyState, 'retired'>;
  activatesAt: Date;
  retireAfter: Date | null;
}

export type CachedKeyRing = KeyRing & {
  invalidate(): void;
  health(): SnapshotHealth & { signing: boolean };
  /** The published keys and their states now, from memory (no database round trip). */
  schedule(): KeyScheduleEntry[];
};

/**
 * Signing keys from the database, held in memory. The key set's fingerprint is checked at most every
 * `checkEveryMs`; a change by any instance (or the CLI) is picked up within that interval. Which key signs
 * is decided by the keys' activation times read against the database clock (the offset to it is measured at
 * each load): a successor is loaded while it is still `next` (it is published well ahead), and takes over at
 * its `activates_at` on every instance alike, without waiting for a check. Retiring keys stay in the JWKS and
 * keep verifying until their `retire_after`. A slow or failing check delays no request while the key set is
 * younger than `maxStaleMs` (see PollingSnapshot).
 */
export function cachedKeyRing(queries: SigningKeySource, timing: SnapshotTiming = {}): CachedKeyRing {
  type State = { version: string; keys: RingKey[]; view: View | null };
  const now = timing.now ?? systemNow;

  const load = async (state: State | undefined): Promise<State> => {
    const current = await queries.version();
    if (state && current === state.version) return state;
    const before = now();
    const loaded = await queries.loadKeyRing();
    // the database clock decides activation: local time + offset = database time
    const offsetMs = loaded.databaseNow.getTime() - (before + now()) / 2;
    const prior = new Map(state?.keys.map((k) => [k.kid, k]));
    const keys = loaded.keys.map((k): RingKey => {
      const jwk = JSON.stringify(k.publicJwk);
      const previous = prior.get(k.kid);
      // an unchanged key keeps its KeyObjects: signatures cached against it (VerifiedJwtCache) stay usable
      const same = previous && previous.alg === k.alg && previous.verifying.jwk === jwk;
      const { kty, crv, x, y, n, e, kid, alg, use } = k.publicJwk as Record<string, string>;
      return {
        kid: k.kid,
        alg: k.alg,
        activatesAtMs: k.activatesAt.getTime() - offsetMs,
        retireAfterMs: k.retireAfter ? k.retireAfter.getTime() - offsetMs : Infinity,
        activatesAt: k.activatesAt,
        retireAfter: k.retireAfter,
        signing: k.privateJwk ? (same && previous.signing) || { kid: k.kid, alg: k.alg, key: createPrivateKey({ key: k.privateJwk, format: 'jwk' }) } : null,
        verifying: same ? previous.verifying : { alg: k.alg, key: createPublicKey({ key: k.publicJwk, format: 'jwk' }), jwk },
        publicJwk: Object.fromEntries(Object.entries({ kty, crv, x, y, n, e, kid, alg, use }).filter(([, v]) => v !== undefined)),
      };
    });
    return { version: current, keys, view: null };
  };

  const viewAt = (state: State, t: number): View => {
    const cached = state.view;
    if (cached && t >= cached.from && t < cached.until) return cached;
    let from = -Infinity;
    let until = Infinity;
    for (const k of state.keys) {
      for (const edge of [k.activatesAtMs, k.retireAfterMs]) {
        if (edge <= t) from = Math.max(from, edge);
        else until = Math.min(until, edge);
      }
    }
    const published = state.keys.filter((k) => k.retireAfterMs > t);
    const signing = new Map<SigningAlg, SigningKeyHandle>();
    const signingSince = new Map<SigningAlg, number>();
    for (const k of published) {
      // the most recently activated key of each algorithm signs
      if (!k.signing || k.activatesAtMs > t || (signingSince.get(k.alg) ?? -Infinity) >= k.activatesAtMs) continue;
      signing.set(k.alg, k.signing);
      signingSince.set(k.alg, k.activatesAtMs);
    }
    const body = JSON.stringify({ keys: published.map((k) => k.publicJwk) });
    const view: View = {
      from,
      until,
      signing,
      verifying: new Map(published.map((k) => [k.kid, k.verifying])),
      jwks: { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` },
    };
    state.view = view;
    return view;
  };

  const snapshot = new PollingSnapshot<State>(load, { ...snapshotOptions(timing, 5000), now });

  const signingKey = async (alg: SigningAlg) => {
    const handle = viewAt(await snapshot.get(), now()).signing.get(alg);
    if (!handle) throw new Error(`No active ${alg} signing key`);
    return handle;
  };
  // while the key set is fresh and no activation is due, every token shares one settled promise per algorithm:
  // no new promise per call (each costs a hook call while Next.js's AsyncLocalStorage is enabled in the process)
  let settled: { state: State; from: number; until: number; byAlg: Map<SigningAlg, Promise<SigningKeyHandle>> } | null = null;

  return {
    signingKey(alg) {
      const state = snapshot.fresh();
      if (!state) return signingKey(alg);
      const t = now();
      if (settled?.state !== state || t >= settled.until || t < settled.from) {
        const view = viewAt(state, t);
        settled = { state, from: view.from, until: view.until, byAlg: new Map() };
      }
      let pending = settled.byAlg.get(alg);
      if (!pending) settled.byAlg.set(alg, (pending = signingKey(alg)));
      return pending;
    },
    async verificationKey(kid, alg) {
      let entry = viewAt(await snapshot.get(), now()).verifying.get(kid);
      // a kid we have not seen may come from a rotation moments ago on another instance
      const recheck = entry ? null : snapshot.refreshAfterMiss();
      if (recheck) entry = viewAt(await recheck, now()).verifying.get(kid);
      return entry && entry.alg === alg ? entry.key : null;
    },
    async jwks() {
      return viewAt(await snapshot.get(), now()).jwks;
    },
    invalidate() {
      snapshot.invalidate();
    },
    health: () => {
      const state = snapshot.current();
      return { ...snapshot.health(), signing: !!state && viewAt(state, now()).signing.size > 0 };
    },
    schedule() {
      const state = snapshot.current();
      if (!state) return [];
      const t = now();
      const view = viewAt(state, t);
      const signingKids = new Set([...view.signing.values()].map((h) => h.kid));
      return state.keys
        .filter((k) => k.retireAfterMs > t)
        .map((k) => ({
          kid: k.kid,
          alg: k.alg,
          activatesAt: k.activatesAt,
          retireAfter: k.retireAfter,
          state: k.activatesAtMs > t ? 'next' : signingKids.has(k.kid) ? 'active' : 'retiring',
        }));
    },
  };
}
