import { generateKeyPairSync, randomUUID, type JsonWebKey } from 'node:crypto';
import type { SecretBox } from '../crypto/secrets';
import type { Database, Queryable } from '../driver';
import type { SigningAlg } from './clients';

export type KeyState = 'active' | 'retiring' | 'retired';

export interface SigningKey {
  kid: string;
  alg: SigningAlg;
  state: KeyState;
  publicJwk: JsonWebKey;
  createdAt: Date;
  retireAfter: Date | null;
}

export interface SigningKeyWithPrivate extends SigningKey {
  /** Decrypted private JWK: kept in memory only. */
  privateJwk: JsonWebKey;
}

type KeyRow = {
  kid: string; alg: SigningAlg; state: KeyState; public_jwk: JsonWebKey; private_key_encrypted: string;
  created_at: Date; retire_after: Date | null;
};

function generateJwkPair(alg: SigningAlg): { publicJwk: JsonWebKey; privateJwk: JsonWebKey } {
  const pair =
    alg === 'RS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicJwk: pair.publicKey.export({ format: 'jwk' }), privateJwk: pair.privateKey.export({ format: 'jwk' }) };
}

function toKey(row: KeyRow): SigningKey {
  return { kid: row.kid, alg: row.alg, state: row.state, publicJwk: row.public_jwk, createdAt: row.created_at, retireAfter: row.retire_after };
}

async function insertKey(tx: Queryable, box: SecretBox, alg: SigningAlg): Promise<SigningKey> {
  const { publicJwk, privateJwk } = generateJwkPair(alg);
  const kid = `${alg.toLowerCase()}-${randomUUID()}`;
  const [row] = await tx.query<KeyRow>(
    `insert into identity.signing_keys (kid, alg, public_jwk, private_key_encrypted, state)
     values ($1, $2, $3, $4, 'active') returning *`,
    [kid, alg, { ...publicJwk, kid, alg, use: 'sig' }, box.encrypt(JSON.stringify(privateJwk))],
  );
  return toKey(row);
}

export function keyQueries(db: Database, box: SecretBox) {
  return {
    /** Creates an active key for each algorithm that has none (first start). */
    async ensureActiveKeys(algs: readonly SigningAlg[] = ['RS256', 'ES256']): Promise<SigningKey[]> {
      const created: SigningKey[] = [];
      for (const alg of algs) {
        const key = await db.transaction(async (tx) => {
          await tx.query('select pg_advisory_xact_lock(7262022)');
          const existing = await tx.query(`select 1 from identity.signing_keys where alg = $1 and state = 'active'`, [alg]);
          return existing.length ? null : insertKey(tx, box, alg);
        });
        if (key) created.push(key);
      }
      return created;
    },

    /**
     * Makes a new key active for `alg`. The previous active key becomes `retiring` and stays published
     * for `keepPublishedSeconds` (the longest lifetime of anything it signed), after which
     * `retireExpired` retires it.
     */
    async rotate(alg: SigningAlg, keepPublishedSeconds: number): Promise<SigningKey> {
      return db.transaction(async (tx) => {
        await tx.query('select pg_advisory_xact_lock(7262022)');
        await tx.query(
          `update identity.signing_keys
              set state = 'retiring', retiring_since = now(), retire_after = now() + make_interval(secs => $2)
            where alg = $1 and state = 'active'`,
          [alg, keepPublishedSeconds],
        );
        return insertKey(tx, box, alg);
      });
    },

    async retireExpired(): Promise<number> {
      const rows = await db.query(
        `update identity.signing_keys set state = 'retired' where state = 'retiring' and retire_after <= now() returning kid`,
      );
      return rows.length;
    },

    /** Keys to publish in the JWKS: active and retiring. */
    async listPublished(): Promise<SigningKey[]> {
      const rows = await db.query<KeyRow>(
        `select * from identity.signing_keys where state in ('active', 'retiring') order by created_at desc`,
      );
      return rows.map(toKey);
    },

    async list(): Promise<SigningKey[]> {
      const rows = await db.query<KeyRow>(`select * from identity.signing_keys order by created_at desc`);
      return rows.map(toKey);
    },

    /** Active keys with their private halves decrypted, for signing. */
    async loadActive(): Promise<SigningKeyWithPrivate[]> {
      const rows = await db.query<KeyRow>(`select * from identity.signing_keys where state = 'active'`);
      return rows.map((row) => ({ ...toKey(row), privateJwk: JSON.parse(box.decrypt(row.private_key_encrypted)) }));
    },

    /** Fingerprint of the key set, for cache invalidation across instances. */
    async version(): Promise<string> {
      const [row] = await db.query<{ v: string }>(
        `select coalesce(string_agg(kid || ':' || state, ',' order by kid), '') as v from identity.signing_keys where state <> 'retired'`,
      );
      return row.v;
    },
  };
}

export type KeyQueries = ReturnType<typeof keyQueries>;
