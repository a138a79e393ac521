import { isIP } from 'node:net';
import { randomToken } from '../crypto/secrets';
import type { Queryable } from '../driver';

export interface Session {
  sid: string;
  userId: string;
  authTime: Date;
  createdAt: Date;
  expiresAt: Date;
  /** How the user authenticated (RFC 8176) and the level reached (README "acr ladder"). */
  amr: string[];
  acr: string;
}

/** A session as its owner sees it on the account page. */
export interface SessionSummary extends Session {
  ipAddress: string | null;
  userAgent: string | null;
  lastSeenAt: Date;
}

/** last_seen_at moves at most this often per session: a lookup within it stays a plain read. */
export const SESSION_LAST_SEEN_RESOLUTION_SECONDS = 60;

export interface NewSession {
  userId: string;
  /** When the user actually authenticated; defaults to now. */
  authTime?: Date;
  ttlSeconds: number;
  ipAddress?: string | null;
  userAgent?: string | null;
  /** Default: a password sign-in. */
  amr?: string[];
  acr?: string;
}

type SessionRow = { sid: string; user_id: string; auth_time: Date; created_at: Date; expires_at: Date; amr: string[]; acr: string };

const COLUMNS = 'sid, user_id, auth_time, created_at, expires_at, amr, acr';

/** Long enough for any real browser; a header is attacker-controlled, so the column is bounded here. */
const MAX_USER_AGENT = 512;

function toSession(row: SessionRow): Session {
  return { sid: row.sid, userId: row.user_id, authTime: row.auth_time, createdAt: row.created_at, expiresAt: row.expires_at, amr: row.amr, acr: row.acr };
}

type SummaryRow = SessionRow & { ip_address: string | null; user_agent: string | null; last_seen_at: Date };
const toSummary = (row: SummaryRow): SessionSummary => ({
  ...toSession(row),
  ipAddress: row.ip_address,
  userAgent: row.user_agent,
  lastSeenAt: row.last_seen_at,
});

export function sessionQueries(db: Queryable) {
  return {
    /** Starts a session with a fresh 256-bit sid. */
    async create(input: NewSession): Promise<Session> {
      // The column is inet: a malformed forwarded-for value must not make the login fail, so it is dropped.
      const ip = input.ipAddress && isIP(input.ipAddress) ? input.ipAddress : null;
      const [row] = await db.query<SessionRow>(
        `insert into identity.sessions (sid, user_id, auth_time, expires_at, ip_address, user_agent, amr, acr)
         values ($1, $2, coalesce($3::timestamptz, now()), now() + make_interval(secs => $4), $5::inet, $6,
           coalesce($7::text[], '{pwd}'), coalesce($8::text, 'urn:idp:acr:pwd'))
         returning ${COLUMNS}`,
        [
          randomToken(32),
          input.userId,
          input.authTime ?? null,
          input.ttlSeconds,
          ip,
          input.userAgent ? input.userAgent.slice(0, MAX_USER_AGENT) : null,
          input.amr ?? null,
          input.acr ?? null,
        ],
      );
      return toSession(row);
    },

    /**
     * The session if it is neither revoked nor expired. Also records that it was seen: in the same
     * statement (no extra round trip), and only when last_seen_at is older than
     * SESSION_LAST_SEEN_RESOLUTION_SECONDS, so most lookups write nothing.
     */
    async findActive(sid: string): Promise<Session | null> {
      const [row] = await db.query<SessionRow>(
        `with touched as (
           update identity.sessions set last_seen_at = now()
            where sid = $1 and revoked_at is null and expires_at > now()
              and last_seen_at < now() - make_interval(secs => $2)
         )
         select ${COLUMNS} from identity.sessions where sid = $1 and revoked_at is null and expires_at > now()`,
        [sid, SESSION_LAST_SEEN_RESOLUTION_SECONDS],
      );
      return row ? toSession(row) : null;
    },

    /** A user's live sessions, most recently seen first (at most `limit`), with their sign-in metadata. */
    async listActiveOfUser(userId: string, limit = 100): Promise<SessionSummary[]> {
      const rows = await db.query<SummaryRow>(
        `select ${COLUMNS}, host(ip_address) as ip_address, user_agent, last_seen_at
           from identity.sessions
          where user_id = $1 and revoked_at is null and expires_at > now()
          order by last_seen_at desc, sid
          limit $2`,
        [userId, Math.max(1, Math.min(1000, Math.floor(limit)))],
      );
      return rows.map(toSummary);
    },

    /** Ends one of a user's sessions (the account page); false when it is not theirs or already over. */
    async revokeOfUser(userId: string, sid: string): Promise<boolean> {
      const rows = await db.query(
        `update identity.sessions set revoked_at = now()
          where sid = $1 and user_id = $2 and revoked_at is null and expires_at > now()
          returning 1`,
        [sid, userId],
      );
      return rows.length > 0;
    },

    /** A factor added to a live session (enrolment with a confirmation code, a passkey registered with user verification). */
    async elevate(sid: string, amr: string[], acr: string): Promise<void> {
      await db.query(`update identity.sessions set amr = $2, acr = $3 where sid = $1 and revoked_at is null`, [sid, amr, acr]);
    },

    /** Ends a session (logout). True when it was still active. */
    async revoke(sid: string): Promise<boolean> {
      const [row] = await db.query<{ was_active: boolean }>(
        `update identity.sessions set revoked_at = now()
          where sid = $1 and revoked_at is null
          returning expires_at > now() as was_active`,
        [sid],
      );
      return row?.was_active ?? false;
    },

    /** Ends every active session of a user except `keepSid` (password change). Returns how many ended. */
    async revokeOthersOfUser(userId: string, keepSid: string | null): Promise<number> {
      const rows = await db.query(
        `update identity.sessions set revoked_at = now()
          where user_id = $1 and sid is distinct from $2 and revoked_at is null and expires_at > now()
          returning 1`,
        [userId, keepSid],
      );
      return rows.length;
    },

    async countActive(): Promise<number> {
      const [row] = await db.query<{ n: number }>(`select count(*)::int as n from identity.sessions where revoked_at is null and expires_at > now()`);
      return row.n;
    },
  };
}

export type SessionQueries = ReturnType<typeof sessionQueries>;
