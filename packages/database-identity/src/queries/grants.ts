import type { SecretBox } from '../crypto/secrets';
import type { Queryable } from '../driver';
import { accessTokenRevokedSql, RevocationSignal } from './revocation';

/** What a redeemed authorization code stands for: everything the token endpoint needs to issue tokens. */
export interface AuthorizationCodeGrant {
  familyId: string;
  clientId: string;
  userId: string;
  sid: string | null;
  redirectUri: string;
  scope: string[];
  nonce: string | null;
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | null;
  authTime: Date;
  /** RFC 8707: resource servers granted at the authorization endpoint; empty: the default audience. */
  resources: string[];
  /** Null for codes issued before amr/acr were recorded. */
  authentication: CodeAuthentication | null;
}

export interface NewAuthorizationCode {
  /** The raw code; only its digest is stored. */
  code: string;
  clientId: string;
  userId: string;
  sid: string | null;
  redirectUri: string;
  scope: string[];
  nonce: string | null;
  codeChallenge: string | null;
  codeChallengeMethod: 'S256' | null;
  authTime: Date;
  ttlSeconds: number;
  /** RFC 8707 resources granted with the code (kept with the family); default none. */
  resources?: string[];
  /** How the user authenticated (amr/acr of the ID token) and the claims asked for in it; stored with the code. */
  authentication?: CodeAuthentication | null;
}

/** RFC 8176 amr values, the acr reached, and the claims the request asked for in the ID token (OIDC Core 5.5). */
export interface CodeAuthentication {
  amr: string[];
  acr: string;
  idTokenClaims: string[];
}

export type ConsumeAuthorizationCodeResult =
  | { status: 'ok'; grant: AuthorizationCodeGrant }
  | { status: 'replayed'; familyId: string; clientId: string; revokedRefreshTokens: number }
  | { status: 'expired'; clientId: string }
  /** The code was never redeemed but its grant was revoked meanwhile (e.g. its user or client lost it). */
  | { status: 'revoked'; clientId: string }
  | { status: 'not_found' };

export interface NewTokenFamily {
  clientId: string;
  userId: string | null;
  sid?: string | null;
  scope: string[];
  authTime?: Date | null;
  resources?: string[];
}

export interface NewRefreshToken {
  /** The raw token; only its digest is stored. */
  token: string;
  familyId: string;
  clientId: string;
  userId: string | null;
  scope: string[];
  ttlSeconds: number;
}

/** A successful rotation: the grant behind the new refresh token. */
export interface RefreshTokenRecord {
  familyId: string;
  clientId: string;
  userId: string | null;
  scope: string[];
  /** Of the new token. */
  createdAt: Date;
  /** Of the new token. */
  expiresAt: Date;
  /** Of the family: when the user authenticated, and in which session. */
  authTime: Date | null;
  sid: string | null;
  /** Of the family: the resource servers granted (a refresh may narrow to some of them). */
  resources: string[];
}

export type RotateRefreshTokenResult =
  | { status: 'ok'; record: RefreshTokenRecord }
  | { status: 'reused'; familyId: string; clientId: string; revokedRefreshTokens: number }
  | { status: 'revoked'; clientId: string }
  | { status: 'expired'; clientId: string }
  | { status: 'not_found' };

/** A refresh token as seen by introspection and revocation. */
export interface RefreshTokenInfo {
  familyId: string;
  clientId: string;
  userId: string | null;
  scope: string[];
  createdAt: Date;
  expiresAt: Date;
  /** Not rotated, not expired, family not revoked. */
  active: boolean;
  /** Of the family: the resource servers granted (RFC 8707). */
  resources: string[];
}

/** A client the user has connected (account page). */
export interface ConnectedApp {
  clientId: string;
  name: string;
  firstParty: boolean;
  /** What the user consented to ([] for a first-party client that never asked). */
  consentScopes: string[];
  consentedAt: Date | null;
  /** Scopes of the grants that still hold a live refresh token. */
  tokenScopes: string[];
  /** When tokens were last issued to the client for this user (null: consent only). */
  lastUsedAt: Date | null;
  refreshTokens: number;
}

type ConnectedAppRow = {
  client_id: string;
  name: string;
  first_party: boolean;
  consent_scopes: string[];
  consented_at: Date | null;
  token_scopes: string[];
  last_used: Date | null;
  refresh_tokens: number;
};

type CodeRow = {
  family_id: string;
  client_id: string;
  user_id: string;
  sid: string | null;
  redirect_uri: string;
  scope: string[];
  nonce: string | null;
  code_challenge: string | null;
  code_challenge_method: 'S256' | null;
  auth_time: Date;
  expired: boolean;
  family_revoked: boolean;
  resources: string[];
  amr: string[] | null;
  acr: string | null;
  id_token_claims: string[] | null;
};

type RotatedRow = {
  family_id: string;
  client_id: string;
  user_id: string | null;
  scope: string[];
  auth_time: Date | null;
  sid: string | null;
  created_at: Date;
  expires_at: Date;
  resources: string[];
};

type RefreshRow = {
  family_id: string;
  client_id: string;
  user_id: string | null;
  scope: string[];
  created_at: Date;
  expires_at: Date;
  active: boolean;
  resources: string[];
};

function toGrant(row: CodeRow): AuthorizationCodeGrant {
  return {
    familyId: row.family_id,
    clientId: row.client_id,
    userId: row.user_id,
    sid: row.sid,
    redirectUri: row.redirect_uri,
    scope: row.scope,
    nonce: row.nonce,
    codeChallenge: row.code_challenge,
    codeChallengeMethod: row.code_challenge_method,
    authTime: row.auth_time,
    resources: row.resources,
    authentication: row.acr === null ? null : { amr: row.amr ?? [], acr: row.acr, idTokenClaims: row.id_token_claims ?? [] },
  };
}

function toRecord(row: RotatedRow): RefreshTokenRecord {
  return {
    familyId: row.family_id,
    clientId: row.client_id,
    userId: row.user_id,
    scope: row.scope,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    authTime: row.auth_time,
    sid: row.sid,
    resources: row.resources,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Revokes a family unless it already is, in one statement; returns how many of its refresh tokens were
 * still usable (0 when it was already revoked, so concurrent revocations count each token once).
 */
async function revokeFamily(db: Queryable, familyId: string, reason: string): Promise<number> {
  return UUID.test(familyId) ? revokeFamiliesWhere(db, 'id', familyId, reason) : 0;
}

/**
 * The families whose `column` is `value` (one family, or all of a user's, optionally only those of one
 * client), revoked as revokeFamily says.
 */
async function revokeFamiliesWhere(db: Queryable, column: 'id' | 'user_id', value: string, reason: string, clientId: string | null = null): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `with revoked as (
       update identity.token_families set revoked_at = now(), revoked_reason = $2
        where ${column} = $1 and revoked_at is null and ($3::text is null or client_id = $3::text)
       returning id
     )
     select count(r.*)::int as n
       from revoked
       join identity.refresh_tokens r on r.family_id = revoked.id and r.rotated_at is null and r.expires_at > now()`,
    [value, reason, clientId],
  );
  return row.n;
}

/**
 * Authorization codes, refresh tokens and their families. Every multi-row change is one statement (data-
 * modifying CTEs): atomic like a transaction, one round trip, and safe behind a transaction-mode pooler.
 * Races are settled by row locks on the UPDATE (`... where consumed_at is null`, `... where rotated_at is
 * null`): of concurrent callers exactly one matches; the others re-check the committed row and miss.
 */
export function grantQueries(db: Queryable, box: SecretBox, revocations: RevocationSignal = new RevocationSignal()) {
  // every path that revokes or deletes a family or a jti tells this process's caches (accessTokenSubjects)
  return {
    /** Creates a token family and its authorization code together. Returns the family id. */
    async createAuthorizationCode(input: NewAuthorizationCode): Promise<{ familyId: string }> {
      const [row] = await db.query<{ family_id: string }>(
        `with family as (
           insert into identity.token_families (client_id, user_id, sid, scope, auth_time, resources)
           values ($1::text, $2::uuid, $3::text, $4::text[], $5::timestamptz, $12::text[])
           returning id
         )
         , code as (
           insert into identity.authorization_codes (code_hash, family_id, client_id, user_id, sid, redirect_uri, scope,
             nonce, code_challenge, code_challenge_method, auth_time, expires_at)
           select $6::text, family.id, $1::text, $2::uuid, $3::text, $7::text, $4::text[], $8::text, $9::text, $10::text,
             $5::timestamptz, now() + make_interval(secs => $11)
             from family
           returning code_hash, family_id
         )
         , context as (
           insert into identity.authorization_code_contexts (code_hash, amr, acr, id_token_claims)
           select code.code_hash, $13::text[], $14::text, $15::text[] from code where $14::text is not null
         )
         select family_id from code`,
        [
          input.clientId,
          input.userId,
          input.sid,
          input.scope,
          input.authTime,
          box.digest(input.code),
          input.redirectUri,
          input.nonce,
          input.codeChallenge,
          input.codeChallengeMethod,
          input.ttlSeconds,
          input.resources ?? [],
          input.authentication?.amr ?? null,
          input.authentication?.acr ?? null,
          input.authentication?.idTokenClaims ?? null,
        ],
      );
      return { familyId: row.family_id };
    },

    /**
     * Redeems a code. Exactly one caller ever gets `ok`. Presenting a redeemed code again revokes its
     * family, i.e. every token issued from it (RFC 6749 4.1.2). An expired code is burnt and reported as
     * such, also on later attempts: it never produced tokens, so there is nothing to revoke.
     */
    async consumeAuthorizationCode(code: string): Promise<ConsumeAuthorizationCodeResult> {
      const codeHash = box.digest(code);
      const [claimed] = await db.query<CodeRow>(
        `update identity.authorization_codes c
            set consumed_at = now()
           from identity.token_families f
           left join identity.authorization_code_contexts x on x.code_hash = $1
          where c.code_hash = $1 and c.consumed_at is null and f.id = c.family_id
          returning c.family_id, c.client_id, c.user_id, c.sid, c.redirect_uri, c.scope, c.nonce, c.code_challenge,
            c.code_challenge_method, c.auth_time, c.expires_at <= now() as expired, f.revoked_at is not null as family_revoked, f.resources,
            x.amr, x.acr, x.id_token_claims`,
        [codeHash],
      );
      if (claimed) {
        if (claimed.expired) return { status: 'expired', clientId: claimed.client_id };
        if (claimed.family_revoked) return { status: 'revoked', clientId: claimed.client_id };
        return { status: 'ok', grant: toGrant(claimed) };
      }
      const [spent] = await db.query<{ family_id: string; client_id: string; burnt_expired: boolean }>(
        `select family_id, client_id, consumed_at >= expires_at as burnt_expired
           from identity.authorization_codes where code_hash = $1`,
        [codeHash],
      );
      if (!spent) return { status: 'not_found' };
      if (spent.burnt_expired) return { status: 'expired', clientId: spent.client_id };
      const revokedRefreshTokens = await revocations.after(revokeFamily(db, spent.family_id, 'code_replayed'));
      return { status: 'replayed', familyId: spent.family_id, clientId: spent.client_id, revokedRefreshTokens };
    },

    /** Creates a family without a code, for a caller that wants one (client_credentials does not need it). */
    async createFamily(input: NewTokenFamily): Promise<{ familyId: string }> {
      const [row] = await db.query<{ id: string }>(
        `insert into identity.token_families (client_id, user_id, sid, scope, auth_time, resources)
         values ($1, $2, $3, $4, $5, $6) returning id`,
        [input.clientId, input.userId, input.sid ?? null, input.scope, input.authTime ?? null, input.resources ?? []],
      );
      return { familyId: row.id };
    },

    async issueRefreshToken(input: NewRefreshToken): Promise<{ expiresAt: Date }> {
      const [row] = await db.query<{ expires_at: Date }>(
        `insert into identity.refresh_tokens (token_hash, family_id, client_id, user_id, scope, expires_at)
         values ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))
         returning expires_at`,
        [box.digest(input.token), input.familyId, input.clientId, input.userId, input.scope, input.ttlSeconds],
      );
      return { expiresAt: row.expires_at };
    },

    /**
     * Exchanges `presented` for `replacement` in the same family: marks the old token rotated and inserts
     * the new one in one statement. Presenting a rotated token again is reuse (RFC 9700 4.14): the whole
     * family is revoked, including the newest token, since either holder may be the thief. Of two
     * concurrent rotations of one token, one succeeds and the other is treated as reuse.
     */
    async rotateRefreshToken(presented: string, replacement: string, ttlSeconds: number): Promise<RotateRefreshTokenResult> {
      const presentedHash = box.digest(presented);
      const [rotated] = await db.query<RotatedRow>(
        `with claimed as (
           update identity.refresh_tokens r
              set rotated_at = now()
             from identity.token_families f
            where r.token_hash = $1 and r.rotated_at is null and r.expires_at > now()
              and f.id = r.family_id and f.revoked_at is null
            returning r.family_id, r.client_id, r.user_id, r.scope, f.auth_time, f.sid, f.resources
         ), issued as (
           insert into identity.refresh_tokens (token_hash, family_id, client_id, user_id, scope, expires_at)
           select $2::text, family_id, client_id, user_id, scope, now() + make_interval(secs => $3) from claimed
           returning family_id, created_at, expires_at
         )
         select c.family_id, c.client_id, c.user_id, c.scope, c.auth_time, c.sid, c.resources, i.created_at, i.expires_at
           from claimed c join issued i using (family_id)`,
        [presentedHash, box.digest(replacement), ttlSeconds],
      );
      if (rotated) return { status: 'ok', record: toRecord(rotated) };

      const [state] = await db.query<{ family_id: string; client_id: string; rotated: boolean; family_revoked: boolean }>(
        `select r.family_id, r.client_id, r.rotated_at is not null as rotated, f.revoked_at is not null as family_revoked
           from identity.refresh_tokens r join identity.token_families f on f.id = r.family_id
          where r.token_hash = $1`,
        [presentedHash],
      );
      if (!state) return { status: 'not_found' };
      if (state.family_revoked) return { status: 'revoked', clientId: state.client_id };
      if (state.rotated) {
        const revokedRefreshTokens = await revocations.after(revokeFamily(db, state.family_id, 'refresh_reused'));
        return { status: 'reused', familyId: state.family_id, clientId: state.client_id, revokedRefreshTokens };
      }
      // neither revoked nor rotated, yet not claimable: the only remaining reason is expiry
      return { status: 'expired', clientId: state.client_id };
    },

    /** Looks a refresh token up without changing it (introspection, revocation); null when unknown. */
    async findRefreshToken(token: string): Promise<RefreshTokenInfo | null> {
      const [row] = await db.query<RefreshRow>(
        `select r.family_id, r.client_id, r.user_id, r.scope, r.created_at, r.expires_at, f.resources,
                (r.rotated_at is null and r.expires_at > now() and f.revoked_at is null) as active
           from identity.refresh_tokens r join identity.token_families f on f.id = r.family_id
          where r.token_hash = $1`,
        [box.digest(token)],
      );
      return row
        ? {
            familyId: row.family_id,
            clientId: row.client_id,
            userId: row.user_id,
            scope: row.scope,
            createdAt: row.created_at,
            expiresAt: row.expires_at,
            active: row.active,
            resources: row.resources,
          }
        : null;
    },

    /** Revokes a family (idempotent; the first reason is kept). Returns how many refresh tokens were still usable. */
    revokeFamily: (familyId: string, reason: string): Promise<number> => revocations.after(revokeFamily(db, familyId, reason)),

    /**
     * Revokes every grant of a user (password change): their refresh tokens, and the access tokens issued
     * from them. Returns how many refresh tokens were still usable.
     */
    async revokeUserGrants(userId: string, reason: string): Promise<number> {
      if (!UUID.test(userId)) return 0;
      return revocations.after(revokeFamiliesWhere(db, 'user_id', userId, reason));
    },

    /**
     * Every client holding a consent or a live refresh token of the user (the account page's connected
     * apps): consented scopes, the scopes of its live grants, how many refresh tokens are live and when
     * tokens were last issued to it (a grant's creation or its latest rotation).
     */
    async connectedApps(userId: string): Promise<ConnectedApp[]> {
      if (!UUID.test(userId)) return [];
      const rows = await db.query<ConnectedAppRow>(
        `with families as (
           select f.id, f.client_id, f.scope, f.created_at, max(r.created_at) as last_rotation,
                  (count(r.token_hash) filter (where r.rotated_at is null and r.expires_at > now()))::int as live_tokens
             from identity.token_families f
             left join identity.refresh_tokens r on r.family_id = f.id
            where f.user_id = $1 and f.revoked_at is null
            group by f.id
         ), held as (
           select h.client_id, max(greatest(h.created_at, coalesce(h.last_rotation, h.created_at))) as last_used,
                  sum(h.live_tokens)::int as refresh_tokens,
                  array(select distinct s from families f2, unnest(f2.scope) as s
                         where f2.client_id = h.client_id and f2.live_tokens > 0 order by s) as token_scopes
             from families h where h.live_tokens > 0 group by h.client_id
         )
         select c.client_id, c.name, c.first_party, coalesce(k.scopes, '{}') as consent_scopes, k.updated_at as consented_at,
                coalesce(h.token_scopes, '{}') as token_scopes, h.last_used, coalesce(h.refresh_tokens, 0) as refresh_tokens
           from identity.oauth_clients c
           left join identity.consents k on k.client_id = c.client_id and k.user_id = $1
           left join held h on h.client_id = c.client_id
          where k.user_id is not null or h.client_id is not null
          order by greatest(h.last_used, k.updated_at) desc nulls last, c.client_id`,
        [userId],
      );
      return rows.map((r) => ({
        clientId: r.client_id,
        name: r.name,
        firstParty: r.first_party,
        consentScopes: r.consent_scopes,
        consentedAt: r.consented_at,
        tokenScopes: r.token_scopes,
        lastUsedAt: r.last_used,
        refreshTokens: r.refresh_tokens,
      }));
    },

    /**
     * Disconnects an app from a user: forgets the consent and revokes every grant (refresh tokens, and the
     * access tokens issued from them) the user gave that client. Returns what was removed.
     */
    async revokeClientForUser(userId: string, clientId: string, reason: string): Promise<{ consentRemoved: boolean; refreshTokensRevoked: number }> {
      if (!UUID.test(userId)) return { consentRemoved: false, refreshTokensRevoked: 0 };
      const refreshTokensRevoked = await revocations.after(revokeFamiliesWhere(db, 'user_id', userId, reason, clientId));
      const removed = await db.query(`delete from identity.consents where user_id = $1 and client_id = $2 returning 1`, [userId, clientId]);
      return { consentRemoved: removed.length > 0, refreshTokensRevoked };
    },

    /** Revokes one JWT access token by jti until it expires. Idempotent. */
    async revokeAccessToken(jti: string, expiresAt: Date): Promise<void> {
      await revocations.after(db.query(`insert into identity.revoked_tokens (jti, expires_at) values ($1, $2) on conflict (jti) do nothing`, [jti, expiresAt]));
    },

    /** Whether an access token is revoked, by jti or through its family (accessTokenRevokedSql), in one round trip. */
    async isAccessTokenRevoked(jti: string, familyId: string | null): Promise<boolean> {
      if (familyId !== null && !UUID.test(familyId)) return true;
      const [row] = await db.query<{ revoked: boolean }>(`select ${accessTokenRevokedSql('$1', '$2')} as revoked`, [jti, familyId]);
      return row.revoked;
    },

    /**
     * Deletes codes, refresh tokens, revoked-jti rows and sessions that expired (sessions: or were revoked)
     * more than `graceSeconds` ago, then the families left with neither code nor refresh token. Since a
     * missing family reads as revoked, `graceSeconds` must exceed the access-token lifetime.
     * Returns the number of rows deleted.
     */
    async purgeExpired(graceSeconds = 86_400): Promise<number> {
      const cutoff = 'now() - make_interval(secs => $1)';
      const statements = [
        `delete from identity.authorization_codes where expires_at < ${cutoff}`,
        `delete from identity.refresh_tokens where expires_at < ${cutoff}`,
        `delete from identity.revoked_tokens where expires_at < ${cutoff}`,
        `delete from identity.sessions where expires_at < ${cutoff} or revoked_at < ${cutoff}`,
        // after the children, so a family whose last code or token just went is collected in the same run
        `delete from identity.token_families f
          where f.created_at < ${cutoff}
            and not exists (select 1 from identity.authorization_codes c where c.family_id = f.id)
            and not exists (select 1 from identity.refresh_tokens r where r.family_id = f.id)`,
      ];
      let deleted = 0;
      try {
        for (const statement of statements) {
          const [row] = await db.query<{ n: number }>(`with gone as (${statement} returning 1) select count(*)::int as n from gone`, [graceSeconds]);
          deleted += row.n;
        }
      } finally {
        // deleted families read as revoked
        revocations.notify();
      }
      return deleted;
    },
  };
}

export type GrantQueries = ReturnType<typeof grantQueries>;
