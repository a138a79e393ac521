import { createHash, createPrivateKey, createPublicKey, type JsonWebKey } from 'node:crypto';
import { systemNow, type KeyQueries, type SigningAlg } from '@idp/database-identity';
import type { KeyObject } from 'node:crypto';
import { PollingSnapshot, type SnapshotHealth, type SnapshotTiming } from './polling-snapshot';
import type { KeyRing, SigningKeyHandle } from './ports';


/**
 * Signing keys from the database, held in memory. The key set's fingerprint is checked at most every
 * `checkEveryMs`; a rotation by any instance (or the CLI) is picked up within that interval. Retiring
 * keys stay in the JWKS and keep verifying until they are retired. A slow or failing check delays no
 * request while the key set is younger than `maxStaleMs` (see PollingSnapshot).
 */
export function cachedKeyRing(queries: KeyQueries, timing: SnapshotTiming = {}): KeyRing & { invalidate(): void; health(): SnapshotHealth & { signing: boolean } } {
  type State = {
    version: string;
    signing: Map<SigningAlg, SigningKeyHandle>;
    verifying: Map<string, { alg: string; key: KeyObject; jwk: string }>;
    jwks: { body: string; etag: string };
  };
  const now = timing.now ?? systemNow;

  const load = async (state: State | undefined): Promise<State> => {
    const current = await queries.version();
    if (state && current === state.version) return state;
    const [active, published] = await Promise.all([queries.loadActive(), queries.listPublished()]);
    const signing = new Map<SigningAlg, SigningKeyHandle>();
    for (const k of active) signing.set(k.alg, { kid: k.kid, alg: k.alg, key: createPrivateKey({ key: k.privateJwk as JsonWebKey, format: 'jwk' }) });
    const verifying = new Map<string, { alg: string; key: KeyObject; jwk: string }>();
    for (const k of published) {
      // an unchanged key keeps its KeyObject: signatures cached against it (VerifiedJwtCache) stay usable
      const jwk = JSON.stringify(k.publicJwk);
      const prior = state?.verifying.get(k.kid);
      const key = prior && prior.alg === k.alg && prior.jwk === jwk ? prior.key : createPublicKey({ key: k.publicJwk as JsonWebKey, format: 'jwk' });
      verifying.set(k.kid, { alg: k.alg, key, jwk });
    }
    const body = JSON.stringify({
      keys: published.map(({ publicJwk }) => {
        const { kty, crv, x, y, n, e, kid, alg, use } = publicJwk as Record<string, string>;
        return Object.fromEntries(Object.entries({ kty, crv, x, y, n, e, kid, alg, use }).filter(([, v]) => v !== undefined));
      }),
    });
    return { version: current, signing, verifying, jwks: { body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` } };
  };
  const snapshot = new PollingSnapshot<State>(load, {
    checkEveryMs: timing.checkEveryMs ?? 5000, maxStaleMs: timing.maxStaleMs ?? 300_000, waitMs: timing.waitMs ?? 100, now, onError: timing.onError,
  });
  let missCheckedAt = -Infinity;

  const signingKey = async (alg: SigningAlg) => {
    const handle = (await snapshot.get()).signing.get(alg);
    if (!handle) throw new Error(`No active ${alg} signing key`);
    return handle;
  };
  // while the key set is fresh, every token shares one settled promise per algorithm: no new promise per
  // call (each costs a hook call while Next.js's AsyncLocalStorage is enabled in the process)
  let settled: { state: State; byAlg: Map<SigningAlg, Promise<SigningKeyHandle>> } | null = null;

  return {
    signingKey(alg) {
      const state = snapshot.fresh();
      if (!state) return signingKey(alg);
      if (settled?.state !== state) settled = { state, byAlg: new Map() };
      let pending = settled.byAlg.get(alg);
      if (!pending) settled.byAlg.set(alg, (pending = signingKey(alg)));
      return pending;
    },
    async verificationKey(kid, alg) {
      let entry = (await snapshot.get()).verifying.get(kid);
      if (!entry && now() - missCheckedAt > 250) {
        // a kid we have not seen may come from a rotation moments ago on another instance
        missCheckedAt = now();
        entry = (await snapshot.refresh()).verifying.get(kid);
      }
      return entry && entry.alg === alg ? entry.key : null;
    },
    async jwks() {
      return (await snapshot.get()).jwks;
    },
    invalidate() {
      snapshot.invalidate();
    },
    health: () => ({ ...snapshot.health(), signing: (snapshot.current()?.signing.size ?? 0) > 0 }),
  };
}
