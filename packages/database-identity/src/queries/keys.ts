import { generateKeyPairSync, randomUUID, type JsonWebKey } from 'node:crypto';
import type { SecretBox } from '../crypto/secrets';
import type { Database, Queryable } from '../driver';
import type { SigningAlg } from './clients';

/**
 * A key's place in its algorithm's lifecycle: `next` (published, not signing yet) -> `active` (signs) ->
 * `retiring` (published, no longer signing, until everything it signed has expired) -> `retired` (gone).
 */
export type KeyState = 'next' | 'active' | 'retiring' | 'retired';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  /** The state at the database time of the read (derived from the times below, see effectiveState). */
  state: KeyState;
  publicJwk: JsonWebKey;
  /** When the key was generated, which is when it was first published. */
  createdAt: Date;
  /** When it starts (or started) signing. */
  activatesAt: Date;
  /** When its successor takes over (null while it has none). */
  retiringSince: Date | null;
  /** When it leaves the JWKS (null while it has no successor). */
  retireAfter: Date | null;
}

export interface SigningKeyWithPrivate extends SigningKey {
  /** Decrypted private JWK: kept in memory only. */
  privateJwk: JsonWebKey;
}

/** The rotation schedule, in seconds (README "Signing key rotation"). */
export interface RotationPolicy {
  /** A new key is published this long before it signs: the JWKS max-age plus a margin. */
  publishAheadSeconds: number;
  /** A replaced key stays published this long after its successor took over: the longest token lifetime plus leeway. */
  keepPublishedSeconds: number;
  /** A key is replaced this long after it started signing (SIGNING_KEY_ROTATION_DAYS). */
  rotateEverySeconds: number;
}

/** What one transition or scheduling step changed: the keys, as they are after it. */
export interface LifecycleChanges {
  published: SigningKey[];
  activated: SigningKey[];
  retired: SigningKey[];
}

export interface ScheduledRotation {
  /** The successor: newly published, or the one already scheduled (then `created` is false). */
  key: SigningKey;
  created: boolean;
  /** The key it replaces (null when the algorithm had no active key). */
  replaces: SigningKey | null;
}

type KeyRow = {
  kid: string;
  alg: SigningAlg;
  state: KeyState;
  effective_state: KeyState;
  public_jwk: JsonWebKey;
  private_key_encrypted: string;
  created_at: Date;
  activates_at: Date;
  retiring_since: Date | null;
  retire_after: Date | null;
};

/** Serialises key creation and lifecycle changes across instances and the CLI. */
const KEY_LOCK = 7262022;

/** `$1` is the time the state is read at; null means the database's now(). */
const EFFECTIVE_STATE = `case
    when k.state = 'retired' or k.retire_after <= coalesce($1::timestamptz, now()) then 'retired'
    when k.activates_at > coalesce($1::timestamptz, now()) then 'next'
    when k.retiring_since <= coalesce($1::timestamptz, now()) then 'retiring'
    else 'active' end`;
const KEY_COLUMNS = `k.kid, k.alg, k.state, k.public_jwk, k.private_key_encrypted, k.created_at, k.activates_at, k.retiring_since, k.retire_after, ${EFFECTIVE_STATE} as effective_state`;

function generateJwkPair(alg: SigningAlg): { publicJwk: JsonWebKey; privateJwk: JsonWebKey } {
  const pair = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicJwk: pair.publicKey.export({ format: 'jwk' }), privateJwk: pair.privateKey.export({ format: 'jwk' }) };
}

function toKey(row: KeyRow): SigningKey {
  return {
    kid: row.kid,
    alg: row.alg,
    state: row.effective_state ?? row.state,
    publicJwk: row.public_jwk,
    createdAt: row.created_at,
    activatesAt: row.activates_at,
    retiringSince: row.retiring_since,
    retireAfter: row.retire_after,
  };
}

/** A new key; `activatesAt` null means at once (the state is then `active`, else `next`). */
async function insertKey(tx: Queryable, box: SecretBox, alg: SigningAlg, at: Date | null, activatesAt: Date | null): Promise<SigningKey> {
  const { publicJwk, privateJwk } = generateJwkPair(alg);
  const kid = `${alg.toLowerCase()}-${randomUUID()}`;
  const [row] = await tx.query<KeyRow>(
    `insert into identity.signing_keys as k (kid, alg, public_jwk, private_key_encrypted, state, created_at, activates_at)
     values ($2, $3, $4, $5, case when $6::timestamptz is null then 'active' else 'next' end,
             coalesce($1::timestamptz, now()), coalesce($6::timestamptz, $1::timestamptz, now()))
     returning ${KEY_COLUMNS}`,
    [at, kid, alg, { ...publicJwk, kid, alg, use: 'sig' }, box.encrypt(JSON.stringify(privateJwk)), activatesAt],
  );
  return toKey(row);
}

/** Records the transitions that are due at `at` (or now()) in `state`; returns the keys that changed. */
async function advance(tx: Queryable, at: Date | null): Promise<Pick<LifecycleChanges, 'activated' | 'retired'>> {
  // the predecessor first: at most one row per algorithm may be 'active'
  await tx.query(`update identity.signing_keys set state = 'retiring' where state = 'active' and retiring_since <= coalesce($1::timestamptz, now())`, [at]);
  const activated = await tx.query<KeyRow>(
    `update identity.signing_keys k set state = 'active' where state = 'next' and activates_at <= coalesce($1::timestamptz, now())
     returning ${KEY_COLUMNS}`,
    [at],
  );
  const retired = await tx.query<KeyRow>(
    `update identity.signing_keys k set state = 'retired' where state in ('retiring', 'active') and retire_after <= coalesce($1::timestamptz, now())
     returning ${KEY_COLUMNS}`,
    [at],
  );
  return { activated: activated.map(toKey), retired: retired.map(toKey) };
}

/**
 * Publishes a successor for `alg` that signs from `activatesAt` (at least `publishAheadSeconds` from now),
 * and schedules the current key's retirement. One successor per algorithm: an existing one is returned.
 */
async function scheduleSuccessor(
  tx: Queryable,
  box: SecretBox,
  alg: SigningAlg,
  policy: Pick<RotationPolicy, 'publishAheadSeconds' | 'keepPublishedSeconds'>,
  at: Date | null,
  notBefore: Date | null = null,
): Promise<ScheduledRotation> {
  const [pending] = await tx.query<KeyRow>(`select ${KEY_COLUMNS} from identity.signing_keys k where alg = $2 and state = 'next'`, [at, alg]);
  const [current] = await tx.query<KeyRow>(`select ${KEY_COLUMNS} from identity.signing_keys k where alg = $2 and state = 'active'`, [at, alg]);
  if (pending) return { key: toKey(pending), created: false, replaces: current ? toKey(current) : null };
  if (!current) return { key: await insertKey(tx, box, alg, at, null), created: true, replaces: null };
  const [{ activates_at }] = await tx.query<{ activates_at: Date }>(
    `select greatest(coalesce($1::timestamptz, now()) + make_interval(secs => $2), coalesce($3::timestamptz, '-infinity'), $4::timestamptz) as activates_at`,
    [at, policy.publishAheadSeconds, notBefore, current.activates_at],
  );
  const key = await insertKey(tx, box, alg, at, activates_at);
  const [replaced] = await tx.query<KeyRow>(
    `update identity.signing_keys k set retiring_since = $3, retire_after = $3::timestamptz + make_interval(secs => $4)
      where kid = $2 returning ${KEY_COLUMNS}`,
    [at, current.kid, activates_at, policy.keepPublishedSeconds],
  );
  return { key, created: true, replaces: toKey(replaced) };
}

export function keyQueries(db: Database, box: SecretBox) {
  const list = async (at: Date | null = null): Promise<SigningKey[]> => {
    const rows = await db.query<KeyRow>(`select ${KEY_COLUMNS} from identity.signing_keys k order by k.activates_at desc, k.created_at desc`, [at]);
    return rows.map(toKey);
  };
  const loadKeyRing = async (): Promise<{ databaseNow: Date; keys: (SigningKey & { privateJwk: JsonWebKey | null })[] }> => {
    const rows = await db.query<KeyRow & { database_now: Date }>(
      `select ${KEY_COLUMNS}, now() as database_now from identity.signing_keys k
        where k.state <> 'retired' and (k.retire_after is null or k.retire_after > now()) order by k.activates_at desc`,
      [null],
    );
    const [{ now }] = rows.length ? [{ now: rows[0].database_now }] : await db.query<{ now: Date }>('select now() as now');
    return {
      databaseNow: now,
      keys: rows.map((row) => {
        const key = toKey(row);
        const signs = key.state === 'next' || key.state === 'active';
        return { ...key, privateJwk: signs ? (JSON.parse(box.decrypt(row.private_key_encrypted)) as JsonWebKey) : null };
      }),
    };
  };
  return {
    /** Creates an active key for each algorithm that has none (first start): nothing can have cached a JWKS yet. */
    async ensureActiveKeys(algs: readonly SigningAlg[] = ['RS256', 'ES256']): Promise<SigningKey[]> {
      const created: SigningKey[] = [];
      for (const alg of algs) {
        const key = await db.transaction(async (tx) => {
          await tx.query(`select pg_advisory_xact_lock(${KEY_LOCK})`);
          const existing = await tx.query(`select 1 from identity.signing_keys where alg = $1 and state = 'active'`, [alg]);
          return existing.length ? null : insertKey(tx, box, alg, null, null);
        });
        if (key) created.push(key);
      }
      return created;
    },

    /**
     * Rotation "now" without breaking verifiers: publishes a successor that signs `publishAheadSeconds`
     * from now (database time); the current key signs until then and stays published for
     * `keepPublishedSeconds` more. Returns the already scheduled successor if there is one.
     */
    async scheduleRotation(
      alg: SigningAlg,
      policy: Pick<RotationPolicy, 'publishAheadSeconds' | 'keepPublishedSeconds'>,
      at: Date | null = null,
    ): Promise<ScheduledRotation & LifecycleChanges> {
      return db.transaction(async (tx) => {
        await tx.query(`select pg_advisory_xact_lock(${KEY_LOCK})`);
        // a successor whose time has come is the current key, not a pending one
        const changes = await advance(tx, at);
        const scheduled = await scheduleSuccessor(tx, box, alg, policy, at);
        return { ...scheduled, published: scheduled.created ? [scheduled.key] : [], ...changes };
      });
    },

    /**
     * Emergency rotation: a successor signs from now on (the scheduled one if any, else a new key). Verifiers
     * whose cached JWKS predates its publication reject its tokens until they refetch. The replaced key stays
     * published for `keepPublishedSeconds`.
     */
    async rotateImmediately(alg: SigningAlg, keepPublishedSeconds: number, at: Date | null = null): Promise<ScheduledRotation & LifecycleChanges> {
      return db.transaction(async (tx) => {
        await tx.query(`select pg_advisory_xact_lock(${KEY_LOCK})`);
        const earlier = await advance(tx, at);
        // an earlier activation of the scheduled successor: it has been published the longest
        await tx.query(
          `update identity.signing_keys set activates_at = least(activates_at, coalesce($1::timestamptz, now())) where alg = $2 and state = 'next'`,
          [at, alg],
        );
        const scheduled = await scheduleSuccessor(tx, box, alg, { publishAheadSeconds: 0, keepPublishedSeconds }, at);
        if (scheduled.replaces) {
          await tx.query(`update identity.signing_keys set retiring_since = $2, retire_after = $2::timestamptz + make_interval(secs => $3) where kid = $1`, [
            scheduled.replaces.kid,
            scheduled.key.activatesAt,
            keepPublishedSeconds,
          ]);
        }
        const changes = await advance(tx, at);
        const [key] = await tx.query<KeyRow>(`select ${KEY_COLUMNS} from identity.signing_keys k where kid = $2`, [at, scheduled.key.kid]);
        return {
          ...scheduled,
          key: toKey(key),
          published: scheduled.created ? [toKey(key)] : [],
          activated: [...earlier.activated, ...changes.activated],
          retired: [...earlier.retired, ...changes.retired],
        };
      });
    },

    /**
     * One round of automatic rotation, on one instance at a time (a transaction-scoped advisory lock; an
     * instance that does not get it skips the round: `ran` is false). Records the transitions that are due
     * (successors that took over, keys past their publication window), then publishes a successor for every
     * algorithm whose active key is due for rotation within the pre-publication window. `at` replaces
     * now() (tests).
     */
    async runScheduledRotation(policy: RotationPolicy, at: Date | null = null): Promise<LifecycleChanges & { ran: boolean }> {
      return db.transaction(async (tx) => {
        const [{ locked }] = await tx.query<{ locked: boolean }>(`select pg_try_advisory_xact_lock(${KEY_LOCK}) as locked`);
        if (!locked) return { ran: false, published: [], activated: [], retired: [] };
        const { activated, retired } = await advance(tx, at);
        const due = await tx.query<{ alg: SigningAlg; due_at: Date }>(
          `select k.alg, k.activates_at + make_interval(secs => $2) as due_at from identity.signing_keys k
            where k.state = 'active' and k.retiring_since is null
              and k.activates_at + make_interval(secs => $2) - make_interval(secs => $3) <= coalesce($1::timestamptz, now())
              and not exists (select 1 from identity.signing_keys n where n.alg = k.alg and n.state = 'next')
            order by k.alg`,
          [at, policy.rotateEverySeconds, policy.publishAheadSeconds],
        );
        const published: SigningKey[] = [];
        for (const { alg, due_at } of due) {
          const scheduled = await scheduleSuccessor(tx, box, alg, policy, at, due_at);
          if (scheduled.created) published.push(scheduled.key);
        }
        return { ran: true, published, activated, retired };
      });
    },

    /** Records the transitions due now (also done by runScheduledRotation); returns how many keys were retired. */
    async retireExpired(at: Date | null = null): Promise<number> {
      return (await db.transaction((tx) => advance(tx, at))).retired.length;
    },

    /** Every key, newest first, with its state at the database time (the admin console, `keys:list`). */
    list,

    /** Keys to publish in the JWKS at the database time: next, active and retiring. */
    async listPublished(at: Date | null = null): Promise<SigningKey[]> {
      return (await list(at)).filter((k) => k.state !== 'retired');
    },

    /**
     * What the key ring needs in one round trip: every key not retired, the private halves of those that
     * sign now or will (next and active), and the database time, against which activation is decided.
     */
    loadKeyRing,

    /** Active keys with their private halves decrypted. */
    async loadActive(): Promise<SigningKeyWithPrivate[]> {
      const { keys } = await loadKeyRing();
      return keys.filter((k): k is SigningKeyWithPrivate => k.state === 'active' && k.privateJwk !== null);
    },

    /** Fingerprint of the key set and its schedule, for cache invalidation across instances. */
    async version(): Promise<string> {
      const [row] = await db.query<{ v: string }>(
        `select coalesce(string_agg(concat_ws(':', kid, state, extract(epoch from activates_at), extract(epoch from retire_after)), ',' order by kid), '') as v
           from identity.signing_keys where state <> 'retired'`,
      );
      return row.v;
    },
  };
}

export type KeyQueries = ReturnType<typeof keyQueries>;
