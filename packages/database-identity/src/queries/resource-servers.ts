import type { Queryable } from '../driver';
import type { SigningAlg } from './clients';
import { isUniqueViolation } from './users';

/**
 * A resource server (an API) that access tokens can be issued for (RFC 8707). Its identifier is the
 * `aud` of its tokens; clients ask for it with `resource=<identifier>`.
 */
export interface ResourceServer {
  identifier: string;
  name: string;
  /** Scopes this API defines: a client may request them only together with this resource. */
  scopes: string[];
  /** Access-token lifetime for this API; null: the provider's default. */
  accessTokenTtlSeconds: number | null;
  signingAlg: SigningAlg;
  /** Clients that may request tokens for this API. */
  allowedClientIds: string[];
  /** Static claims added to every token for this API. */
  extraClaims: Record<string, unknown>;
  /** A Supabase project: its tokens carry `role` and the audience Supabase checks; null otherwise. */
  supabase: { role: string; audience: string } | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewResourceServer {
  identifier: string;
  name: string;
  scopes?: string[];
  accessTokenTtlSeconds?: number | null;
  signingAlg?: SigningAlg;
  allowedClientIds?: string[];
  extraClaims?: Record<string, unknown>;
  supabase?: { role?: string; audience?: string } | null;
}

/** What an update may change; undefined fields keep their value. */
export type ResourceServerChanges = Partial<Omit<NewResourceServer, 'identifier'>>;

export class DuplicateResourceServerError extends Error {
  constructor(readonly identifier: string) {
    super(`A resource server with identifier ${identifier} already exists`);
    this.name = 'DuplicateResourceServerError';
  }
}

/** A value the registry refuses, with the field it concerns (shown by the CLI, later the admin console). */
export class InvalidResourceServerError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'InvalidResourceServerError';
  }
}

/** Defaults of a Supabase project: the Postgres role PostgREST switches to, and the `aud` Supabase's tokens carry. */
export const SUPABASE_DEFAULTS = { role: 'authenticated', audience: 'authenticated' } as const;

/** Scopes of OpenID Connect itself: they describe the user and are never an API's. */
const OIDC_SCOPES = new Set(['openid', 'profile', 'email', 'offline_access']);
/** Claims the provider sets itself (RFC 7519, RFC 9068, OIDC): an extra claim never replaces one. */
export const RESERVED_CLAIMS = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'client_id',
  'scope',
  'auth_time',
  'sid',
  'gid',
  'acr',
  'amr',
  'cnf',
  'act',
  'may_act',
  'azp',
  'typ',
]);
const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/; // RFC 6749 3.3 scope-token
const MAX_SCOPES = 100;
const MAX_CLIENTS = 1000;
export const MAX_RESOURCE_IDENTIFIER_LENGTH = 512;
const MAX_EXTRA_CLAIMS_BYTES = 4096;
const ROLE = /^[A-Za-z_][A-Za-z0-9_$-]{0,62}$/; // a Postgres role name PostgREST can `set role` to

/** Whitespace, C0 controls or DEL: never part of a URI or an audience. */
function hasWhitespaceOrControl(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code <= 0x20 || code === 0x7f) return true;
  }
  return /\s/.test(value);
}

/** RFC 8707 2: an absolute URI without a fragment; the reason it is not, or null. */
export function resourceIdentifierProblem(value: string): string | null {
  if (!value || value.length > MAX_RESOURCE_IDENTIFIER_LENGTH) return `must be 1 to ${MAX_RESOURCE_IDENTIFIER_LENGTH} characters`;
  if (hasWhitespaceOrControl(value)) return 'must not contain whitespace or control characters';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute URI';
  }
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) return 'must be an absolute URI';
  if (value.includes('#') || url.hash) return 'must not contain a fragment';
  if (url.username || url.password) return 'must not contain credentials';
  return null;
}

function validated<T extends ResourceServerChanges & { identifier?: string }>(input: T): T {
  if (input.identifier !== undefined) {
    const problem = resourceIdentifierProblem(input.identifier);
    if (problem) throw new InvalidResourceServerError('identifier', problem);
  }
  if (input.name !== undefined && (!input.name.trim() || input.name.length > 200)) throw new InvalidResourceServerError('name', 'must be 1 to 200 characters');
  if (input.scopes !== undefined) {
    if (input.scopes.length > MAX_SCOPES) throw new InvalidResourceServerError('scopes', `at most ${MAX_SCOPES}`);
    for (const scope of input.scopes) {
      if (!SCOPE_TOKEN.test(scope)) throw new InvalidResourceServerError('scopes', `not a scope token: ${JSON.stringify(scope.slice(0, 40))}`);
      if (OIDC_SCOPES.has(scope)) throw new InvalidResourceServerError('scopes', `${scope} belongs to OpenID Connect, not to an API`);
    }
  }
  const ttl = input.accessTokenTtlSeconds;
  if (ttl !== undefined && ttl !== null && !(Number.isInteger(ttl) && ttl >= 60 && ttl <= 86_400)) {
    throw new InvalidResourceServerError('accessTokenTtlSeconds', 'must be an integer from 60 to 86400');
  }
  if (input.signingAlg !== undefined && !['RS256', 'ES256'].includes(input.signingAlg))
    throw new InvalidResourceServerError('signingAlg', 'must be RS256 or ES256');
  if (input.allowedClientIds !== undefined && (input.allowedClientIds.length > MAX_CLIENTS || input.allowedClientIds.some((id) => !id || id.length > 256))) {
    throw new InvalidResourceServerError('allowedClientIds', `at most ${MAX_CLIENTS} client ids of 1 to 256 characters`);
  }
  if (input.extraClaims !== undefined) {
    const claims = input.extraClaims;
    if (!claims || typeof claims !== 'object' || Array.isArray(claims)) throw new InvalidResourceServerError('extraClaims', 'must be a JSON object');
    for (const name of Object.keys(claims)) {
      if (RESERVED_CLAIMS.has(name)) throw new InvalidResourceServerError('extraClaims', `${name} is set by the provider`);
      if (name === 'role' && input.supabase) throw new InvalidResourceServerError('extraClaims', 'role is set by the Supabase settings');
    }
    if (Buffer.byteLength(JSON.stringify(claims)) > MAX_EXTRA_CLAIMS_BYTES)
      throw new InvalidResourceServerError('extraClaims', `at most ${MAX_EXTRA_CLAIMS_BYTES} bytes of JSON`);
  }
  if (input.supabase) {
    const { role, audience } = input.supabase;
    if (role !== undefined && !ROLE.test(role)) throw new InvalidResourceServerError('supabase.role', 'must be a Postgres role name');
    if (audience !== undefined && (!audience || audience.length > MAX_RESOURCE_IDENTIFIER_LENGTH || hasWhitespaceOrControl(audience))) {
      throw new InvalidResourceServerError('supabase.audience', `must be 1 to ${MAX_RESOURCE_IDENTIFIER_LENGTH} characters without whitespace`);
    }
  }
  return input;
}

type ResourceServerRow = {
  identifier: string;
  name: string;
  scopes: string[];
  access_token_ttl_seconds: number | null;
  signing_alg: SigningAlg;
  allowed_client_ids: string[];
  extra_claims: Record<string, unknown> | string;
  supabase_role: string | null;
  supabase_audience: string | null;
  created_at: Date;
  updated_at: Date;
};

function toResourceServer(row: ResourceServerRow): ResourceServer {
  return {
    identifier: row.identifier,
    name: row.name,
    scopes: row.scopes,
    accessTokenTtlSeconds: row.access_token_ttl_seconds,
    signingAlg: row.signing_alg,
    allowedClientIds: row.allowed_client_ids,
    extraClaims: typeof row.extra_claims === 'string' ? JSON.parse(row.extra_claims) : row.extra_claims,
    supabase: row.supabase_role !== null && row.supabase_audience !== null ? { role: row.supabase_role, audience: row.supabase_audience } : null,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** The resource-server registry (identity.resource_servers). Every write validates first: bad input never reaches SQL as a 500. */
export function resourceServerQueries(db: Queryable) {
  const find = async (identifier: string): Promise<ResourceServer | null> => {
    const [row] = await db.query<ResourceServerRow>(`select * from identity.resource_servers where identifier = $1`, [identifier]);
    return row ? toResourceServer(row) : null;
  };
  return {
    async create(input: NewResourceServer): Promise<ResourceServer> {
      validated(input);
      const supabase = input.supabase ? { ...SUPABASE_DEFAULTS, ...input.supabase } : null;
      try {
        const [row] = await db.query<ResourceServerRow>(
          `insert into identity.resource_servers (identifier, name, scopes, access_token_ttl_seconds, signing_alg, allowed_client_ids,
             extra_claims, supabase_role, supabase_audience)
           values ($1, $2, $3, $4, $5, $6, $7::text::jsonb, $8, $9)
           returning *`,
          [
            input.identifier,
            input.name,
            input.scopes ?? [],
            input.accessTokenTtlSeconds ?? null,
            input.signingAlg ?? 'RS256',
            input.allowedClientIds ?? [],
            JSON.stringify(input.extraClaims ?? {}),
            supabase?.role ?? null,
            supabase?.audience ?? null,
          ],
        );
        return toResourceServer(row);
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateResourceServerError(input.identifier);
        throw error;
      }
    },

    find,

    async list(): Promise<ResourceServer[]> {
      const rows = await db.query<ResourceServerRow>(`select * from identity.resource_servers order by identifier`);
      return rows.map(toResourceServer);
    },

    /**
     * Changes the given fields; `supabase: null` turns the Supabase claims off, an object sets them (missing
     * parts take SUPABASE_DEFAULTS). Returns the updated server, or null when none has that identifier.
     */
    async update(identifier: string, changes: ResourceServerChanges): Promise<ResourceServer | null> {
      const current = await find(identifier);
      if (!current) return null;
      const supabase =
        changes.supabase === undefined
          ? current.supabase
          : changes.supabase === null
            ? null
            : { ...SUPABASE_DEFAULTS, ...current.supabase, ...changes.supabase };
      const next = {
        name: changes.name ?? current.name,
        scopes: changes.scopes ?? current.scopes,
        accessTokenTtlSeconds: changes.accessTokenTtlSeconds === undefined ? current.accessTokenTtlSeconds : changes.accessTokenTtlSeconds,
        signingAlg: changes.signingAlg ?? current.signingAlg,
        allowedClientIds: changes.allowedClientIds ?? current.allowedClientIds,
        extraClaims: changes.extraClaims ?? current.extraClaims,
        supabase,
      };
      validated(next);
      const [row] = await db.query<ResourceServerRow>(
        `update identity.resource_servers
            set name = $2, scopes = $3, access_token_ttl_seconds = $4, signing_alg = $5, allowed_client_ids = $6,
                extra_claims = $7::text::jsonb, supabase_role = $8, supabase_audience = $9,
                updated_at = greatest(now(), updated_at + interval '1 microsecond')
          where identifier = $1
          returning *`,
        [
          identifier,
          next.name,
          next.scopes,
          next.accessTokenTtlSeconds,
          next.signingAlg,
          next.allowedClientIds,
          JSON.stringify(next.extraClaims),
          supabase?.role ?? null,
          supabase?.audience ?? null,
        ],
      );
      return row ? toResourceServer(row) : null;
    },

    /** Deletes a resource server; tokens already issued for it stay valid until they expire. */
    async delete(identifier: string): Promise<boolean> {
      const rows = await db.query<{ identifier: string }>(`delete from identity.resource_servers where identifier = $1 returning identifier`, [identifier]);
      return rows.length > 0;
    },

    /** Fingerprint of the whole table (latest change, count): the registry cache reloads when it moves. */
    async version(): Promise<string> {
      const [row] = await db.query<{ v: string }>(`select coalesce(max(updated_at)::text, '') || ':' || count(*)::text as v from identity.resource_servers`);
      return row.v;
    },
  };
}

export type ResourceServerQueries = ReturnType<typeof resourceServerQueries>;
