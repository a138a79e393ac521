import { randomToken, type SecretBox } from '../crypto/secrets';
import type { Queryable } from '../driver';
import { AUDIT_COLUMNS, toAuditEntry, type AuditEntry, type AuditRow } from '../audit/queries';
import { toClient, type ClientRow, type GrantType, type OAuthClient, type SigningAlg } from './clients';
import { RevocationSignal } from './revocation';
import { COLUMNS as USER_COLUMNS, DuplicateEmailError, isUniqueViolation, toUser, type User, type UserRow } from './users';

/**
 * What the admin console (and the admin CLI) reads and changes beyond the protocol's own queries: paged
 * lists, edits, disabling, deletion, secret rotation, locks, the token ledger. Every list is a keyset page,
 * newest first, ordered by (created_at, key): `Keyset` is the position after the last row of a page.
 */
export interface Keyset {
  at: Date;
  key: string;
}

export interface Page<T> {
  items: T[];
  next: Keyset | null;
}

export interface PageRequest {
  cursor?: Keyset | null;
  limit: number;
  /** Case-insensitive substring of the list's searchable columns. */
  search?: string;
}

export interface ClientPatch {
  name?: string;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  grantTypes?: GrantType[];
  scopes?: string[];
  idTokenSignedResponseAlg?: SigningAlg;
  firstParty?: boolean;
}

export interface UserPatch {
  email?: string;
  name?: string | null;
  roles?: string[];
}

/** How many of a client's (or user's) grants are alive: what deleting or disabling it would revoke. */
export interface GrantCounts {
  liveFamilies: number;
  liveRefreshTokens: number;
  consents: number;
}

export interface AdminSession {
  sid: string;
  userId: string;
  email: string;
  authTime: Date;
  createdAt: Date;
  expiresAt: Date;
  /** Where and with what the session signed in, and when it was last used (at most a minute old). */
  ipAddress: string | null;
  userAgent: string | null;
  lastSeenAt: Date;
  /** RFC 8176 methods of its sign-in (pwd, otp, hwk...). */
  amr: string[];
}

type AdminSessionRow = {
  sid: string;
  user_id: string;
  email: string;
  auth_time: Date;
  created_at: Date;
  expires_at: Date;
  ip_address: string | null;
  user_agent: string | null;
  last_seen_at: Date;
  amr: string[];
};
const ADMIN_SESSION_COLUMNS =
  's.sid, s.user_id, u.email, s.auth_time, s.created_at, s.expires_at, host(s.ip_address) as ip_address, s.user_agent, s.last_seen_at, s.amr';
const toAdminSession = (r: AdminSessionRow): AdminSession => ({
  sid: r.sid,
  userId: r.user_id,
  email: r.email,
  authTime: r.auth_time,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  ipAddress: r.ip_address,
  userAgent: r.user_agent,
  lastSeenAt: r.last_seen_at,
  amr: r.amr,
});

export interface TokenFamilyEntry {
  familyId: string;
  clientId: string;
  userId: string | null;
  email: string | null;
  scope: string[];
  createdAt: Date;
  authTime: Date | null;
  revokedAt: Date | null;
  revokedReason: string | null;
  liveRefreshTokens: number;
  lastRefreshAt: Date | null;
  refreshExpiresAt: Date | null;
}

export interface ConsentEntry {
  userId: string;
  clientId: string;
  clientName: string;
  scopes: string[];
  grantedAt: Date;
  updatedAt: Date;
}

export interface DeadLetter {
  id: number;
  eventId: string;
  action: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  failures: number;
  firstFailedAt: Date;
  lastFailedAt: Date;
}

export class ClientNotFoundError extends Error {
  constructor(readonly clientId: string) {
    super(`No client with client_id ${clientId}`);
    this.name = 'ClientNotFoundError';
  }
}

export class UserNotFoundError extends Error {
  constructor(readonly userId: string) {
    super(`No user with id ${userId}`);
    this.name = 'UserNotFoundError';
  }
}

/** A lock without an end: the largest timestamp both Postgres and JavaScript read back unchanged. */
export const INDEFINITE_LOCK = new Date('9999-12-31T23:59:59.000Z');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const likePattern = (search: string) => `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
const bound = (limit: number) => Math.max(1, Math.min(500, Math.floor(limit)));

function paged<R, T>(rows: R[], limit: number, map: (row: R) => T, keyOf: (item: T) => Keyset): Page<T> {
  const items = rows.slice(0, limit).map(map);
  const last = items[items.length - 1];
  return { items, next: rows.length > limit && last ? keyOf(last) : null };
}

type FamilyRow = {
  id: string;
  client_id: string;
  user_id: string | null;
  email: string | null;
  scope: string[];
  created_at: Date;
  auth_time: Date | null;
  revoked_at: Date | null;
  revoked_reason: string | null;
  live_refresh_tokens: number;
  last_refresh_at: Date | null;
  refresh_expires_at: Date | null;
};
const toFamily = (r: FamilyRow): TokenFamilyEntry => ({
  familyId: r.id,
  clientId: r.client_id,
  userId: r.user_id,
  email: r.email,
  scope: r.scope,
  createdAt: r.created_at,
  authTime: r.auth_time,
  revokedAt: r.revoked_at,
  revokedReason: r.revoked_reason,
  liveRefreshTokens: Number(r.live_refresh_tokens),
  lastRefreshAt: r.last_refresh_at,
  refreshExpiresAt: r.refresh_expires_at,
});

/** Actions the security view lists: abuse the provider noticed, and what it did about it. */
export const SECURITY_ACTIONS = [
  'security.suspicious',
  'security.rate_limited',
  'auth.account_locked',
  'token.code_replayed',
  'token.refresh_reused',
  'client.auth_failed',
] as const;

export function adminQueries(db: Queryable, box: SecretBox, revocations: RevocationSignal = new RevocationSignal()) {
  /** Revokes the live families matching `where` (one statement); returns how many refresh tokens were still usable. */
  const revokeFamilies = async (where: string, params: unknown[], reason: string): Promise<number> => {
    const [row] = await revocations.after(
      db.query<{ n: number }>(
        `with revoked as (
         update identity.token_families set revoked_at = now(), revoked_reason = $${params.length + 1}
          where ${where} and revoked_at is null
         returning id
       )
       select count(r.*)::int as n
         from revoked join identity.refresh_tokens r on r.family_id = revoked.id and r.rotated_at is null and r.expires_at > now()`,
        [...params, reason],
      ),
    );
    return row.n;
  };

  const grantCounts = async (column: 'client_id' | 'user_id', value: string): Promise<GrantCounts> => {
    const [row] = await db.query<{ families: number; tokens: number; consents: number }>(
      `select (select count(*)::int from identity.token_families where ${column} = $1 and revoked_at is null) as families,
              (select count(*)::int from identity.refresh_tokens r join identity.token_families f on f.id = r.family_id
                where f.${column} = $1 and f.revoked_at is null and r.rotated_at is null and r.expires_at > now()) as tokens,
              (select count(*)::int from identity.consents where ${column} = $1) as consents`,
      [value],
    );
    return { liveFamilies: row.families, liveRefreshTokens: row.tokens, consents: row.consents };
  };

  const familyPage = async (column: 'client_id' | 'user_id', value: string, page: PageRequest & { liveOnly?: boolean }): Promise<Page<TokenFamilyEntry>> => {
    const params: unknown[] = [value];
    let keyset = '';
    if (page.cursor) {
      params.push(page.cursor.at.toISOString(), UUID.test(page.cursor.key) ? page.cursor.key : '00000000-0000-0000-0000-000000000000');
      keyset = `and (f.created_at, f.id) < ($2::timestamptz, $3::uuid)`;
    }
    const limit = bound(page.limit);
    const rows = await db.query<FamilyRow>(
      `select f.id, f.client_id, f.user_id, u.email, f.scope, f.created_at, f.auth_time, f.revoked_at, f.revoked_reason,
              (select count(*)::int from identity.refresh_tokens r where r.family_id = f.id and r.rotated_at is null and r.expires_at > now() and f.revoked_at is null) as live_refresh_tokens,
              (select max(r.created_at) from identity.refresh_tokens r where r.family_id = f.id) as last_refresh_at,
              (select max(r.expires_at) from identity.refresh_tokens r where r.family_id = f.id) as refresh_expires_at
         from identity.token_families f left join identity.users u on u.id = f.user_id
        where f.${column} = $1 ${page.liveOnly ? 'and f.revoked_at is null' : ''} ${keyset}
        order by f.created_at desc, f.id desc limit ${limit + 1}`,
      params,
    );
    return paged(rows, limit, toFamily, (f) => ({ at: f.createdAt, key: f.familyId }));
  };

  return {
    clients: {
      async page(page: PageRequest): Promise<Page<OAuthClient>> {
        const params: unknown[] = [];
        const clauses: string[] = [];
        if (page.search) {
          params.push(likePattern(page.search));
          clauses.push(`(client_id ilike $${params.length} escape '\\' or name ilike $${params.length} escape '\\')`);
        }
        if (page.cursor) {
          params.push(page.cursor.at.toISOString(), page.cursor.key);
          clauses.push(`(created_at, client_id) < ($${params.length - 1}::timestamptz, $${params.length}::text)`);
        }
        const limit = bound(page.limit);
        const rows = await db.query<ClientRow>(
          `select * from identity.oauth_clients ${clauses.length ? `where ${clauses.join(' and ')}` : ''}
            order by created_at desc, client_id desc limit ${limit + 1}`,
          params,
        );
        return paged(rows, limit, toClient, (c) => ({ at: c.createdAt, key: c.clientId }));
      },

      async update(clientId: string, patch: ClientPatch): Promise<OAuthClient> {
        const [row] = await db.query<ClientRow>(
          `update identity.oauth_clients
              set name = coalesce($2::text, name),
                  redirect_uris = coalesce($3::text[], redirect_uris),
                  post_logout_redirect_uris = coalesce($4::text[], post_logout_redirect_uris),
                  grant_types = coalesce($5::text[], grant_types),
                  scopes = coalesce($6::text[], scopes),
                  id_token_signed_response_alg = coalesce($7::text, id_token_signed_response_alg),
                  first_party = coalesce($8::boolean, first_party),
                  updated_at = clock_timestamp()
            where client_id = $1 returning *`,
          [
            clientId,
            patch.name ?? null,
            patch.redirectUris ?? null,
            patch.postLogoutRedirectUris ?? null,
            patch.grantTypes ?? null,
            patch.scopes ?? null,
            patch.idTokenSignedResponseAlg ?? null,
            patch.firstParty ?? null,
          ],
        );
        if (!row) throw new ClientNotFoundError(clientId);
        return toClient(row);
      },

      grantCounts: (clientId: string) => grantCounts('client_id', clientId),

      /** Disabling revokes every live grant of the client; enabling restores nothing but the registration. */
      async setDisabled(clientId: string, disabled: boolean): Promise<{ client: OAuthClient; revokedRefreshTokens: number }> {
        const [row] = await db.query<ClientRow>(
          `update identity.oauth_clients set disabled_at = case when $2::boolean then coalesce(disabled_at, now()) end, updated_at = clock_timestamp()
            where client_id = $1 returning *`,
          [clientId, disabled],
        );
        if (!row) throw new ClientNotFoundError(clientId);
        const revokedRefreshTokens = disabled ? await revokeFamilies('client_id = $1', [clientId], 'client_disabled') : 0;
        return { client: toClient(row), revokedRefreshTokens };
      },

      /** Revokes the client's grants (so the epoch moves for its access tokens), then deletes it with its families and consents. */
      async delete(clientId: string): Promise<{ revokedRefreshTokens: number }> {
        const revokedRefreshTokens = await revokeFamilies('client_id = $1', [clientId], 'client_deleted');
        const rows = await revocations.after(db.query(`delete from identity.oauth_clients where client_id = $1 returning 1`, [clientId]));
        if (!rows.length) throw new ClientNotFoundError(clientId);
        return { revokedRefreshTokens };
      },

      /**
       * A new 256-bit secret, returned once and stored as a keyed digest. With `graceSeconds` > 0 the current
       * secret keeps working until then (its digest moves to previous_secret_hash); with 0 it stops at once.
       */
      async rotateSecret(clientId: string, graceSeconds: number): Promise<{ client: OAuthClient; clientSecret: string }> {
        const clientSecret = randomToken(32);
        const [row] = await db.query<ClientRow>(
          `update identity.oauth_clients
              set previous_secret_hash = case when $3::int > 0 then client_secret_hash end,
                  previous_secret_expires_at = case when $3::int > 0 then now() + make_interval(secs => $3::int) end,
                  client_secret_hash = $2,
                  updated_at = clock_timestamp()
            where client_id = $1 and token_endpoint_auth_method <> 'none'
            returning *`,
          [clientId, box.digest(clientSecret), graceSeconds],
        );
        if (!row) throw new ClientNotFoundError(clientId);
        return { client: toClient(row), clientSecret };
      },

      families: (clientId: string, page: PageRequest & { liveOnly?: boolean }) => familyPage('client_id', clientId, page),
    },

    users: {
      async page(page: PageRequest): Promise<Page<User>> {
        const params: unknown[] = [];
        const clauses: string[] = [];
        if (page.search) {
          params.push(likePattern(page.search));
          clauses.push(`(email ilike $${params.length} escape '\\' or name ilike $${params.length} escape '\\' or id::text = lower($${params.length}))`);
        }
        if (page.cursor) {
          params.push(page.cursor.at.toISOString(), UUID.test(page.cursor.key) ? page.cursor.key : '00000000-0000-0000-0000-000000000000');
          clauses.push(`(created_at, id) < ($${params.length - 1}::timestamptz, $${params.length}::uuid)`);
        }
        const limit = bound(page.limit);
        const rows = await db.query<UserRow>(
          `select ${USER_COLUMNS} from identity.users ${clauses.length ? `where ${clauses.join(' and ')}` : ''}
            order by created_at desc, id desc limit ${limit + 1}`,
          params,
        );
        return paged(rows, limit, toUser, (u) => ({ at: u.createdAt, key: u.id }));
      },

      async update(id: string, patch: UserPatch): Promise<User> {
        if (!UUID.test(id)) throw new UserNotFoundError(id);
        try {
          const [row] = await revocations.after(
            db.query<UserRow>(
              `update identity.users
                set email = coalesce($2::text, email),
                    email_verified = case when $2::text is not null and lower($2::text) <> lower(email) then false else email_verified end,
                    name = case when $3::boolean then $4::text else name end,
                    roles = coalesce($5::text[], roles),
                    updated_at = now()
              where id = $1 returning ${USER_COLUMNS}`,
              [id, patch.email?.trim() ?? null, patch.name !== undefined, patch.name ?? null, patch.roles ?? null],
            ),
          );
          if (!row) throw new UserNotFoundError(id);
          return toUser(row);
        } catch (error) {
          if (isUniqueViolation(error)) throw new DuplicateEmailError(patch.email ?? '');
          throw error;
        }
      },

      grantCounts: (userId: string) =>
        UUID.test(userId) ? grantCounts('user_id', userId) : Promise.resolve({ liveFamilies: 0, liveRefreshTokens: 0, consents: 0 }),

      /**
       * Locks the account until `until` (INDEFINITE_LOCK: until unlocked): sign-in is refused, the user's
       * sessions end and their grants are revoked. Returns what ended.
       */
      async lock(id: string, until: Date): Promise<{ user: User; sessionsEnded: number; revokedRefreshTokens: number }> {
        if (!UUID.test(id)) throw new UserNotFoundError(id);
        const [row] = await db.query<UserRow>(
          `update identity.users set locked_until = $2::timestamptz, updated_at = now() where id = $1 returning ${USER_COLUMNS}`,
          [id, until.toISOString()],
        );
        if (!row) throw new UserNotFoundError(id);
        const sessions = await db.query(
          `update identity.sessions set revoked_at = now() where user_id = $1 and revoked_at is null and expires_at > now() returning 1`,
          [id],
        );
        const revokedRefreshTokens = await revokeFamilies('user_id = $1', [id], 'user_locked');
        return { user: toUser(row), sessionsEnded: sessions.length, revokedRefreshTokens };
      },

      async unlock(id: string): Promise<User> {
        if (!UUID.test(id)) throw new UserNotFoundError(id);
        const [row] = await db.query<UserRow>(
          `update identity.users set locked_until = null, failed_login_count = 0, updated_at = now() where id = $1 returning ${USER_COLUMNS}`,
          [id],
        );
        if (!row) throw new UserNotFoundError(id);
        return toUser(row);
      },

      /** The next sign-in must choose a new password (the forced change of the login flow). */
      async forcePasswordChange(id: string): Promise<User> {
        if (!UUID.test(id)) throw new UserNotFoundError(id);
        const [row] = await db.query<UserRow>(
          `update identity.users set must_change_password = true, updated_at = now() where id = $1 returning ${USER_COLUMNS}`,
          [id],
        );
        if (!row) throw new UserNotFoundError(id);
        return toUser(row);
      },

      /** Deletes the user with their sessions, consents and grants (cascades; the epoch moves by trigger). */
      async delete(id: string): Promise<{ revokedRefreshTokens: number }> {
        if (!UUID.test(id)) throw new UserNotFoundError(id);
        const revokedRefreshTokens = await revokeFamilies('user_id = $1', [id], 'user_deleted');
        const rows = await revocations.after(db.query(`delete from identity.users where id = $1 returning 1`, [id]));
        if (!rows.length) throw new UserNotFoundError(id);
        return { revokedRefreshTokens };
      },

      families: (userId: string, page: PageRequest & { liveOnly?: boolean }) =>
        UUID.test(userId) ? familyPage('user_id', userId, page) : Promise.resolve({ items: [], next: null }),

      async consents(userId: string): Promise<ConsentEntry[]> {
        if (!UUID.test(userId)) return [];
        const rows = await db.query<{ user_id: string; client_id: string; name: string; scopes: string[]; granted_at: Date; updated_at: Date }>(
          `select c.user_id, c.client_id, o.name, c.scopes, c.granted_at, c.updated_at
             from identity.consents c join identity.oauth_clients o using (client_id)
            where c.user_id = $1 order by c.updated_at desc limit 500`,
          [userId],
        );
        return rows.map((r) => ({
          userId: r.user_id,
          clientId: r.client_id,
          clientName: r.name,
          scopes: r.scopes,
          grantedAt: r.granted_at,
          updatedAt: r.updated_at,
        }));
      },

      /** Withdraws the user's consent to a client and revokes the grants (refresh tokens) the client holds for them. */
      async revokeConsent(userId: string, clientId: string): Promise<{ consentRemoved: boolean; revokedRefreshTokens: number }> {
        if (!UUID.test(userId)) return { consentRemoved: false, revokedRefreshTokens: 0 };
        const removed = await db.query(`delete from identity.consents where user_id = $1 and client_id = $2 returning 1`, [userId, clientId]);
        const revokedRefreshTokens = await revokeFamilies('user_id = $1 and client_id = $2', [userId, clientId], 'consent_revoked');
        return { consentRemoved: removed.length > 0, revokedRefreshTokens };
      },
    },

    sessions: {
      /** Active provider sessions (of one user, or all), newest first. */
      async page(page: PageRequest & { userId?: string }): Promise<Page<AdminSession>> {
        const params: unknown[] = [];
        const clauses = ['s.revoked_at is null', 's.expires_at > now()'];
        if (page.userId) {
          if (!UUID.test(page.userId)) return { items: [], next: null };
          params.push(page.userId);
          clauses.push(`s.user_id = $${params.length}`);
        }
        if (page.search) {
          params.push(likePattern(page.search));
          clauses.push(`u.email ilike $${params.length} escape '\\'`);
        }
        if (page.cursor) {
          params.push(page.cursor.at.toISOString(), page.cursor.key);
          clauses.push(`(s.created_at, s.sid) < ($${params.length - 1}::timestamptz, $${params.length}::text)`);
        }
        const limit = bound(page.limit);
        const rows = await db.query<AdminSessionRow>(
          `select ${ADMIN_SESSION_COLUMNS}
             from identity.sessions s join identity.users u on u.id = s.user_id
            where ${clauses.join(' and ')}
            order by s.created_at desc, s.sid desc limit ${limit + 1}`,
          params,
        );
        return paged(rows, limit, toAdminSession, (s) => ({ at: s.createdAt, key: s.sid }));
      },

      async find(sid: string): Promise<AdminSession | null> {
        const [r] = await db.query<AdminSessionRow>(
          `select ${ADMIN_SESSION_COLUMNS}
             from identity.sessions s join identity.users u on u.id = s.user_id
            where s.sid = $1 and s.revoked_at is null and s.expires_at > now()`,
          [sid],
        );
        return r ? toAdminSession(r) : null;
      },
    },

    families: {
      async find(familyId: string): Promise<TokenFamilyEntry | null> {
        if (!UUID.test(familyId)) return null;
        const [row] = await db.query<FamilyRow>(
          `select f.id, f.client_id, f.user_id, u.email, f.scope, f.created_at, f.auth_time, f.revoked_at, f.revoked_reason,
                  (select count(*)::int from identity.refresh_tokens r where r.family_id = f.id and r.rotated_at is null and r.expires_at > now() and f.revoked_at is null) as live_refresh_tokens,
                  (select max(r.created_at) from identity.refresh_tokens r where r.family_id = f.id) as last_refresh_at,
                  (select max(r.expires_at) from identity.refresh_tokens r where r.family_id = f.id) as refresh_expires_at
             from identity.token_families f left join identity.users u on u.id = f.user_id where f.id = $1`,
          [familyId],
        );
        return row ? toFamily(row) : null;
      },
    },

    audit: {
      /** Security events (SECURITY_ACTIONS, or some of them), newest first, keyset by (created_at, id). */
      async security(page: {
        cursor?: { createdAt: Date; id: number } | null;
        limit: number;
        actions?: readonly string[];
      }): Promise<{ entries: AuditEntry[]; next: { createdAt: Date; id: number } | null }> {
        const actions = page.actions?.length ? page.actions : SECURITY_ACTIONS;
        const params: unknown[] = [actions];
        let keyset = '';
        if (page.cursor) {
          params.push(page.cursor.createdAt.toISOString(), page.cursor.id);
          keyset = `and (created_at, id) < ($2::timestamptz, $3)`;
        }
        const limit = bound(page.limit);
        const rows = await db.query<AuditRow>(
          `select ${AUDIT_COLUMNS} from identity.audit_logs where action = any($1::text[]) ${keyset}
            order by created_at desc, id desc limit ${limit + 1}`,
          params,
        );
        const entries = rows.slice(0, limit).map(toAuditEntry);
        const last = entries[entries.length - 1];
        return { entries, next: rows.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null };
      },

      async findByEventId(eventId: string): Promise<AuditEntry | null> {
        if (!UUID.test(eventId)) return null;
        const [row] = await db.query<AuditRow>(`select ${AUDIT_COLUMNS} from identity.audit_logs where event_id = $1::uuid limit 1`, [eventId]);
        return row ? toAuditEntry(row) : null;
      },

      /**
       * Events related to one: the same request id, token family (details.family_id) or session
       * (details.sid), within a day either side of it. At most `limit`, the event itself excluded.
       */
      async related(entry: AuditEntry, limit = 50): Promise<AuditEntry[]> {
        const familyId = typeof entry.details?.family_id === 'string' ? entry.details.family_id : null;
        const sid = typeof entry.details?.sid === 'string' ? entry.details.sid : null;
        if (!entry.requestId && !familyId && !sid) return [];
        const rows = await db.query<AuditRow>(
          `select ${AUDIT_COLUMNS} from identity.audit_logs
            where created_at between $1::timestamptz - interval '1 day' and $1::timestamptz + interval '1 day'
              and event_id <> $2::uuid
              and ((request_id = $3::text and $3::text is not null) or (details->>'family_id' = $4::text and $4::text is not null) or (details->>'sid' = $5::text and $5::text is not null))
            order by created_at desc, id desc limit ${bound(limit)}`,
          [entry.createdAt.toISOString(), entry.eventId, entry.requestId, familyId, sid],
        );
        return rows.map(toAuditEntry);
      },

      async deadLetters(limit = 20): Promise<{ total: number; recent: DeadLetter[] }> {
        const [count] = await db.query<{ n: number }>(`select count(*)::int as n from identity.audit_dead_letters`);
        const rows = await db.query<{
          id: number;
          event_id: string;
          action: string | null;
          error_code: string | null;
          error_message: string | null;
          failures: number;
          first_failed_at: Date;
          last_failed_at: Date;
        }>(
          `select id, event_id, event->>'action' as action, error_code, left(error_message, 300) as error_message, failures, first_failed_at, last_failed_at
             from identity.audit_dead_letters order by first_failed_at desc, id desc limit ${bound(limit)}`,
        );
        return {
          total: count.n,
          recent: rows.map((r) => ({
            id: Number(r.id),
            eventId: r.event_id,
            action: r.action,
            errorCode: r.error_code,
            errorMessage: r.error_message,
            failures: r.failures,
            firstFailedAt: r.first_failed_at,
            lastFailedAt: r.last_failed_at,
          })),
        };
      },
    },

    async counts(): Promise<{
      users: number;
      admins: number;
      lockedUsers: number;
      clients: number;
      disabledClients: number;
      activeSessions: number;
      liveFamilies: number;
    }> {
      const [row] = await db.query<{ users: number; admins: number; locked: number; clients: number; disabled: number; sessions: number; families: number }>(
        `select (select count(*)::int from identity.users) as users,
                (select count(*)::int from identity.users where 'admin' = any(roles)) as admins,
                (select count(*)::int from identity.users where locked_until > now()) as locked,
                (select count(*)::int from identity.oauth_clients) as clients,
                (select count(*)::int from identity.oauth_clients where disabled_at is not null) as disabled,
                (select count(*)::int from identity.sessions where revoked_at is null and expires_at > now()) as sessions,
                (select count(*)::int from identity.token_families where revoked_at is null) as families`,
      );
      return {
        users: row.users,
        admins: row.admins,
        lockedUsers: row.locked,
        clients: row.clients,
        disabledClients: row.disabled,
        activeSessions: row.sessions,
        liveFamilies: row.families,
      };
    },
  };
}

export type AdminQueries = ReturnType<typeof adminQueries>;
