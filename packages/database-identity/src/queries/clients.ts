import { randomClientId, randomToken, type SecretBox } from '../crypto/secrets';
import type { Queryable } from '../driver';
import { isUniqueViolation } from './users';

export type GrantType = 'authorization_code' | 'refresh_token' | 'client_credentials';
export type TokenEndpointAuthMethod = 'client_secret_basic' | 'client_secret_post' | 'none';
export type SigningAlg = 'RS256' | 'ES256';

export interface OAuthClient {
  clientId: string;
  /** Digest of the secret; null for public clients. Compare with SecretBox.matchesDigest. */
  clientSecretHash: string | null;
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  grantTypes: GrantType[];
  scopes: string[];
  tokenEndpointAuthMethod: TokenEndpointAuthMethod;
  idTokenSignedResponseAlg: SigningAlg;
  /** Alg of this client's access tokens with the default audience; null: the provider's default. */
  accessTokenSignedResponseAlg: SigningAlg | null;
  firstParty: boolean;
  createdAt: Date;
  updatedAt: Date;
  /** Set while an administrator has disabled the client: every endpoint then treats it as unknown. */
  disabledAt: Date | null;
  /** After a secret rotation with a grace period: the previous secret's digest, valid until the expiry. */
  previousSecretHash: string | null;
  previousSecretExpiresAt: Date | null;
}

export interface NewClient {
  clientId?: string;
  name: string;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  grantTypes?: GrantType[];
  scopes?: string[];
  tokenEndpointAuthMethod?: TokenEndpointAuthMethod;
  idTokenSignedResponseAlg?: SigningAlg;
  accessTokenSignedResponseAlg?: SigningAlg | null;
  firstParty?: boolean;
  /**
   * A confidential client's secret chosen by the caller (development fixtures derive theirs from a server
   * secret); default: a fresh 256-bit random one. Stored only as a digest either way.
   */
  clientSecret?: string;
}

export class DuplicateClientError extends Error {
  constructor(readonly clientId: string) {
    super(`A client with client_id ${clientId} already exists`);
    this.name = 'DuplicateClientError';
  }
}

export type ClientRow = {
  client_id: string;
  client_secret_hash: string | null;
  name: string;
  redirect_uris: string[];
  post_logout_redirect_uris: string[];
  grant_types: GrantType[];
  scopes: string[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  id_token_signed_response_alg: SigningAlg;
  first_party: boolean;
  created_at: Date;
  updated_at: Date;
  access_token_signed_response_alg: SigningAlg | null;
  disabled_at: Date | null;
  previous_secret_hash: string | null;
  previous_secret_expires_at: Date | null;
};

export function toClient(row: ClientRow): OAuthClient {
  return {
    clientId: row.client_id,
    clientSecretHash: row.client_secret_hash,
    name: row.name,
    redirectUris: row.redirect_uris,
    postLogoutRedirectUris: row.post_logout_redirect_uris,
    grantTypes: row.grant_types,
    scopes: row.scopes,
    tokenEndpointAuthMethod: row.token_endpoint_auth_method,
    idTokenSignedResponseAlg: row.id_token_signed_response_alg,
    accessTokenSignedResponseAlg: row.access_token_signed_response_alg,
    firstParty: row.first_party,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    disabledAt: row.disabled_at ?? null,
    previousSecretHash: row.previous_secret_hash ?? null,
    previousSecretExpiresAt: row.previous_secret_expires_at ?? null,
  };
}

export function clientQueries(db: Queryable, box: SecretBox) {
  return {
    /**
     * Registers a client. Confidential clients get a fresh 256-bit secret, returned here once and
     * stored only as a keyed digest.
     */
    async create(input: NewClient): Promise<{ client: OAuthClient; clientSecret: string | null }> {
      const method = input.tokenEndpointAuthMethod ?? 'client_secret_basic';
      const clientSecret = method === 'none' ? null : (input.clientSecret ?? randomToken(32));
      const clientId = input.clientId ?? randomClientId();
      try {
        const [row] = await db.query<ClientRow>(
          `insert into identity.oauth_clients (client_id, client_secret_hash, name, redirect_uris, post_logout_redirect_uris,
             grant_types, scopes, token_endpoint_auth_method, id_token_signed_response_alg, first_party, access_token_signed_response_alg)
           values ($1, $2, $3, $4, $5, coalesce($6, array['authorization_code','refresh_token']), coalesce($7, array['openid','profile','email','offline_access']), $8, $9, $10, $11)
           returning *`,
          [
            clientId,
            clientSecret ? box.digest(clientSecret) : null,
            input.name,
            input.redirectUris ?? [],
            input.postLogoutRedirectUris ?? [],
            input.grantTypes ?? null,
            input.scopes ?? null,
            method,
            input.idTokenSignedResponseAlg ?? 'RS256',
            input.firstParty ?? false,
            input.accessTokenSignedResponseAlg ?? null,
          ],
        );
        return { client: toClient(row), clientSecret };
      } catch (error) {
        if (isUniqueViolation(error)) throw new DuplicateClientError(clientId);
        throw error;
      }
    },

    async find(clientId: string): Promise<OAuthClient | null> {
      const [row] = await db.query<ClientRow>(`select * from identity.oauth_clients where client_id = $1`, [clientId]);
      return row ? toClient(row) : null;
    },

    async list(): Promise<OAuthClient[]> {
      const rows = await db.query<ClientRow>(`select * from identity.oauth_clients order by created_at, client_id`);
      return rows.map(toClient);
    },

    /**
     * Sets the alg of the client's access tokens with the default audience (null: the provider's default).
     * Returns false when no such client exists.
     */
    async setAccessTokenAlg(clientId: string, alg: SigningAlg | null): Promise<boolean> {
      if (alg !== null && alg !== 'RS256' && alg !== 'ES256') throw new TypeError('alg must be RS256, ES256 or null');
      const rows = await db.query<{ client_id: string }>(
        `update identity.oauth_clients set access_token_signed_response_alg = $2, updated_at = greatest(now(), updated_at + interval '1 microsecond')
          where client_id = $1 returning client_id`,
        [clientId, alg],
      );
      return rows.length > 0;
    },

    /** Latest change time over all clients: a cheap fingerprint for cache invalidation across instances. */
    async version(): Promise<string> {
      const [row] = await db.query<{ v: string }>(`select coalesce(max(updated_at)::text, '') || ':' || count(*)::text as v from identity.oauth_clients`);
      return row.v;
    },
  };
}

export type ClientQueries = ReturnType<typeof clientQueries>;
