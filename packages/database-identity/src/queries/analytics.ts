import type { Queryable } from '../driver';
import { systemNow } from '../clock';

/**
 * Token analytics over identity.audit_logs, served by the sealed rollups declared in supabase/schemas/
 * (docs/analytics.md: how a range is split into sealed days, hours, quarters and raw remainders). Every
 * number is exact.
 *
 * Token events: action like 'token.%', and client.auth_failed. Issued: token.issued.*; refreshed:
 * token.refreshed; failed: the failed token requests (FAILED_TOKEN_ACTIONS), split by details.reason.
 */
export const FAILED_TOKEN_ACTIONS = [
  'token.validation_failed',
  'token.pkce_failed',
  'token.code_invalid',
  'token.code_replayed',
  'token.refresh_reused',
  'token.expired',
  'client.auth_failed',
] as const;

export type TimeBucket = 'hour' | 'day' | 'week' | 'month';

/**
 * The audience filter's value for the provider's default audience: the token events that name none
 * (audit_logs.audience null). Any other value is an API's resource identifier(s), exactly as the events carry it.
 */
export const DEFAULT_AUDIENCE = '';

export interface TokenDashboardQuery {
  start: Date;
  /** Exclusive. */
  end: Date;
  clientId?: string | null;
  userId?: string | null;
  /** Only the token events of this audience (an API's resource identifier(s), or DEFAULT_AUDIENCE); null: all. */
  audience?: string | null;
  /** IANA zone for the time buckets and the peak-usage heatmap (default UTC). */
  timeZone?: string;
  /** Default: hour up to 48 h, day up to 31 days, week up to 182 days, month beyond. */
  bucket?: TimeBucket;
  /** Length of the top-clients and top-users lists (default 10). */
  top?: number;
}

export interface TokenStats {
  token_events: number;
  total_issued: number;
  total_refreshed: number;
  total_failed: number;
  unique_users: number;
  unique_clients: number;
  userinfo_accessed: number;
  revoked: number;
  introspected: number;
  /** Issued responses that carried a refresh token. */
  refresh_tokens_issued: number;
  issued_by_grant: { authorization_code: number; refresh_token: number; client_credentials: number; other: number };
}

export interface TokenLifetime {
  /** Mean of details.expires_at - details.issued_at over the tokens issued in the range (seconds, ms precision). */
  issued_avg_seconds: number | null;
  issued_count: number;
  /**
   * Mean actual lifetime of the tokens that ended in the range, where the start is known: refresh tokens
   * rotated (token.refreshed: created_at - details.previous_issued_at) and tokens revoked (token.revoked:
   * created_at - details.issued_at, or the issued_at of the issuing event found by details.jti).
   */
  actual_avg_seconds: number | null;
  actual_count: number;
}

export interface TokenRates {
  /** Tokens issued by the refresh_token grant / all tokens issued. */
  refresh_share: number | null;
  /** token.refreshed / issued responses that carried a refresh token. */
  refresh_token_usage_rate: number | null;
  /** Failed token requests / (tokens issued + failed token requests). */
  failure_rate: number | null;
}

export interface IssuanceBucket {
  /** Start of the bucket (ISO 8601, UTC); buckets are aligned in the requested time zone. */
  start: string;
  /** The bucket in the requested zone: YYYY-MM-DD, or YYYY-MM-DDTHH:MM for hours. */
  label: string;
  authorization_code: number;
  refresh_token: number;
  client_credentials: number;
  other: number;
  total: number;
}

export interface FailureBucket {
  start: string;
  label: string;
  total: number;
  by_reason: Record<string, number>;
}

export interface ClientTokens {
  client_id: string | null;
  issued: number;
  authorization_code: number;
  refresh_token: number;
  client_credentials: number;
  other: number;
  refreshed: number;
  failed: number;
  events: number;
}

/** Token events per audience (the "by API" breakdown). */
export interface AudienceTokens {
  /** The API's resource identifier(s); null: the provider's default audience. */
  audience: string | null;
  issued: number;
  authorization_code: number;
  refresh_token: number;
  client_credentials: number;
  other: number;
  refreshed: number;
  failed: number;
  events: number;
}

export interface TopClient {
  client_id: string | null;
  events: number;
  issued: number;
  refreshed: number;
  failed: number;
  unique_users: number;
}

export interface TopUser {
  user_id: string;
  /** Null when the account no longer exists (the audit trail outlives accounts). */
  email: string | null;
  issued: number;
}

export interface TokenDashboard {
  range: { start: string; end: string; tz: string; bucket: TimeBucket; hour_aligned_zone: boolean };
  /** audience: as asked (DEFAULT_AUDIENCE '' for the default one), null: no audience filter. */
  filters: { client_id: string | null; user_id: string | null; audience: string | null };
  stats: TokenStats;
  lifetime: TokenLifetime;
  rates: TokenRates;
  issuance: IssuanceBucket[];
  failures: { reasons: string[]; series: FailureBucket[] };
  /** Every client with token events in the range, most tokens issued first. */
  by_client: ClientTokens[];
  /** Every audience with token events in the range (null: the provider's default), most tokens issued first. */
  by_audience: AudienceTokens[];
  /** The most active clients (token events), with their distinct users. */
  top_clients: TopClient[];
  /** The users who were issued the most tokens. */
  top_users: TopUser[];
  /** Token events by ISO weekday (index 0 = Monday) and hour of day (0-23) in the requested zone. */
  peak: { metric: 'token_events'; weekday_hour: number[][] };
}

/** The story's get_token_stats row. */
export interface StoryTokenStats {
  total_issued: number;
  total_refreshed: number;
  total_failed: number;
  unique_users: number;
  unique_clients: number;
}

export interface TokenActivityCursor {
  /** created_at with microseconds (ISO 8601, UTC). */
  createdAt: string;
  id: number;
}

export interface TokenActivityQuery {
  start?: Date;
  end?: Date;
  clientId?: string | null;
  userId?: string | null;
  /** As TokenDashboardQuery.audience. */
  audience?: string | null;
  cursor?: TokenActivityCursor | null;
  /** 1..200. */
  limit: number;
}

export interface TokenActivityEntry {
  id: number;
  createdAt: string;
  action: string;
  failed: boolean;
  reason: string | null;
  clientId: string | null;
  userId: string | null;
  grantType: string | null;
  /** The token's audience; null: the provider's default. */
  audience: string | null;
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
}

export interface TokenActivityPage {
  entries: TokenActivityEntry[];
  next: TokenActivityCursor | null;
}

export interface TokenAnalyticsSettings {
  /** Raw events older than this are dropped (whole months) by applyRetention; rollups keep the history. */
  rawRetentionDays: number;
  /** Monthly partitions created ahead by ensurePartitions. */
  partitionsAhead: number;
  /** How far back a revoked access token's issuing event is looked up (>= the access token lifetime). */
  revocationLookbackSeconds: number;
  /** An hour is sealed this long after it ended. */
  sealGraceSeconds: number;
}

/** Where sealing stands (`npm run idp -- analytics:status`); timestamps are UTC ISO strings. */
export interface TokenAnalyticsStatus {
  /** The analytics clock (now(), unless a test set identity.analytics_clock). */
  clock: string;
  /** Every UTC hour before it is sealed, except the dirty ones; null: nothing sealed yet. */
  watermark: string | null;
  dirtyHours: number;
  dirtyDays: number;
  oldestDirtyHour: string | null;
  /** The background sealer's last round; `alive` while younger than its timeout (the trigger seals otherwise). */
  sealer: { seenAt: string | null; timeoutSeconds: number; alive: boolean };
  settings: TokenAnalyticsSettings;
  /** audit_logs partitions, oldest first; the default partition (`from`/`to` null) catches rows outside them. */
  partitions: { name: string; from: string | null; to: string | null }[];
  oldestRawEvent: string | null;
}

export const ACTIVITY_MAX_LIMIT = 200;

const iso = (value: unknown): string => new Date(value as string).toISOString();

type ActivityRow = {
  id: number;
  created_at_us: string;
  action: string;
  failed: boolean;
  reason: string | null;
  client_id: string | null;
  user_id: string | null;
  grant_type: string | null;
  audience: string | null;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
};

export function analyticsQueries(db: Queryable) {
  return {
    /** Everything the token analytics dashboard shows, in one database round trip. */
    async dashboard(q: TokenDashboardQuery): Promise<TokenDashboard> {
      const [row] = await db.query<{ d: TokenDashboard }>(
        'select identity.token_dashboard($1::timestamptz, $2::timestamptz, $3::text, $4::uuid, $5::text, $6::text, $7::integer, $8::text) as d',
        [
          q.start.toISOString(),
          q.end.toISOString(),
          q.clientId ?? null,
          q.userId ?? null,
          q.timeZone ?? 'UTC',
          q.bucket ?? null,
          q.top ?? 10,
          q.audience ?? null,
        ],
      );
      const d = row.d;
      // timestamps come back in the session's zone: normalise to UTC ISO strings
      d.range.start = iso(d.range.start);
      d.range.end = iso(d.range.end);
      for (const b of d.issuance) b.start = iso(b.start);
      for (const b of d.failures.series) b.start = iso(b.start);
      return d;
    },

    /** The story's get_token_stats: both ends included; optionally for one audience (as TokenDashboardQuery.audience). */
    async stats(start: Date, end: Date, clientId: string | null = null, audience: string | null = null): Promise<StoryTokenStats> {
      const [row] = await db.query<StoryTokenStats>('select * from identity.get_token_stats($1::timestamptz, $2::timestamptz, $3::text, $4::text)', [
        start.toISOString(),
        end.toISOString(),
        clientId,
        audience,
      ]);
      return row;
    },

    /** Recent token events, newest first, keyset-paginated on (created_at, id). */
    async activity(q: TokenActivityQuery): Promise<TokenActivityPage> {
      const limit = Math.min(Math.max(1, Math.floor(q.limit)), ACTIVITY_MAX_LIMIT);
      const clauses = [`(l.action like 'token.%' or l.action = 'client.auth_failed')`];
      const params: unknown[] = [];
      const add = (clause: string, value: unknown) => {
        params.push(value);
        clauses.push(clause.replaceAll('?', `$${params.length}`));
      };
      if (q.start) add('l.created_at >= ?::timestamptz', q.start.toISOString());
      if (q.end) add('l.created_at < ?::timestamptz', q.end.toISOString());
      if (q.clientId) add('l.client_id = ?::text', q.clientId);
      if (q.userId) add('l.user_id = ?::uuid', q.userId);
      // the default audience: the events without one (as identity.token_audience counts them); an API: its index
      if (q.audience === DEFAULT_AUDIENCE) clauses.push(`identity.token_audience(l.audience) = ''`);
      else if (q.audience) add('l.audience = ?::text', q.audience);
      if (q.cursor) {
        params.push(q.cursor.createdAt, q.cursor.id);
        clauses.push(`(l.created_at, l.id) < ($${params.length - 1}::timestamptz, $${params.length}::bigint)`);
      }
      const rows = await db.query<ActivityRow>(
        `select l.id, to_char(l.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at_us, l.action,
                identity.token_is_failure(l.action) as failed,
                case when identity.token_is_failure(l.action) then l.details->>'reason' end as reason,
                l.client_id, l.user_id, l.grant_type, nullif(identity.token_audience(l.audience), '') as audience,
                host(l.ip_address) as ip, l.user_agent, l.request_id
           from identity.audit_logs l
          where ${clauses.join(' and ')}
          order by l.created_at desc, l.id desc
          limit ${limit + 1}`,
        params,
      );
      const entries = rows.slice(0, limit).map((r) => ({
        id: Number(r.id),
        createdAt: r.created_at_us,
        action: r.action,
        failed: r.failed,
        reason: r.reason,
        clientId: r.client_id,
        userId: r.user_id,
        grantType: r.grant_type,
        audience: r.audience,
        ip: r.ip,
        userAgent: r.user_agent,
        requestId: r.request_id,
      }));
      const last = entries[entries.length - 1];
      return { entries, next: rows.length > limit && last ? { createdAt: last.createdAt, id: last.id } : null };
    },

    /** Creates the monthly audit_logs partitions ahead of time (and moves rows out of the default partition). */
    ensurePartitions: () => ensurePartitions(db),

    /** Seals every closed hour not sealed yet, all in one call (after a bulk load or a restore; sealInBackground and the trigger keep up otherwise). */
    async sealPending(): Promise<number> {
      const [row] = await db.query<{ n: number }>('select identity.token_rollup_maintain() as n');
      return Number(row.n);
    },

    /**
     * One round of background sealing (run it every minute or so): records the sealer's heartbeat, then seals
     * the closed hours (and days). While the heartbeat is fresh the audit_logs trigger leaves sealing to this,
     * off the audit writer's path; it takes over again when the heartbeat is older than the sealer timeout.
     * One hour per statement (its own transaction, about 30 ms at 5k events an hour), at most `maxHours` hours
     * with events and `budgetMs` per round: catching up after downtime never holds a connection (the only one,
     * embedded) for long, and each sealed hour is kept even if a later one fails. Returns the hours sealed.
     */
    async sealInBackground(maxHours = 24, budgetMs = 10_000): Promise<number> {
      const started = systemNow();
      let sealed = 0;
      while (sealed < maxHours && systemNow() - started < budgetMs) {
        const [row] = await db.query<{ n: number }>('select identity.token_rollup_seal_background(1) as n');
        if (Number(row.n) === 0) break;
        sealed += Number(row.n);
      }
      return sealed;
    },

    /** Drops raw partitions older than the retention (default: the configured one), after sealing them. */
    async applyRetention(retentionDays?: number): Promise<number> {
      const [row] = await db.query<{ n: number }>(
        'select identity.audit_apply_retention(case when $1::integer is null then null else make_interval(days => $1::integer) end) as n',
        [retentionDays ?? null],
      );
      return Number(row.n);
    },

    /** Recomputes the rollups from the raw events (all of them, or from `from` on); returns the hours sealed. */
    async rebuild(from?: Date): Promise<number> {
      const [row] = await db.query<{ n: number }>('select identity.token_rollup_rebuild($1::timestamptz) as n', [from?.toISOString() ?? null]);
      return Number(row.n);
    },

    /** Watermark, dirty hours and days, the sealer's heartbeat, the partitions and the settings (retention). */
    async status(): Promise<TokenAnalyticsStatus> {
      const [row] = await db.query<{
        clock: string;
        watermark: string | null;
        dirty_hours: number;
        dirty_days: number;
        oldest_dirty_hour: string | null;
        sealer_seen_at: string | null;
        sealer_timeout_seconds: number;
        sealer_alive: boolean;
        oldest_raw_event: string | null;
        partitions: { name: string; from: string | null; to: string | null }[];
      }>(
        `select identity.token_clock() as clock, s.watermark,
                (select count(*)::int from identity.token_rollup_dirty x where x.grain = 'h') as dirty_hours,
                (select count(*)::int from identity.token_rollup_dirty x where x.grain = 'd') as dirty_days,
                (select min(x.bucket) from identity.token_rollup_dirty x where x.grain = 'h') as oldest_dirty_hour,
                k.seen_at as sealer_seen_at, extract(epoch from s.sealer_timeout)::int as sealer_timeout_seconds,
                coalesce(k.seen_at > identity.token_clock() - s.sealer_timeout, false) as sealer_alive,
                (select min(l.created_at) from identity.audit_logs l) as oldest_raw_event,
                (select coalesce(jsonb_agg(jsonb_build_object('name', p.name, 'from', p.bounds[1]::timestamptz, 'to', p.bounds[2]::timestamptz) order by p.bounds[1]::timestamptz nulls last, p.name), '[]'::jsonb)
                   from (select c.relname::text as name,
                                regexp_match(pg_get_expr(c.relpartbound, c.oid), $$FROM [(]'([^']+)'[)] TO [(]'([^']+)'[)]$$) as bounds
                           from pg_inherits i join pg_class c on c.oid = i.inhrelid
                          where i.inhparent = 'identity.audit_logs'::regclass) p) as partitions
           from identity.token_rollup_state s cross join identity.token_rollup_sealer k`,
      );
      const isoOrNull = (value: unknown) => (value === null || value === undefined ? null : iso(value));
      return {
        clock: iso(row.clock),
        watermark: isoOrNull(row.watermark),
        dirtyHours: Number(row.dirty_hours),
        dirtyDays: Number(row.dirty_days),
        oldestDirtyHour: isoOrNull(row.oldest_dirty_hour),
        sealer: { seenAt: isoOrNull(row.sealer_seen_at), timeoutSeconds: Number(row.sealer_timeout_seconds), alive: row.sealer_alive },
        settings: await this.settings(),
        partitions: row.partitions.map((p) => ({ name: p.name, from: isoOrNull(p.from), to: isoOrNull(p.to) })),
        oldestRawEvent: isoOrNull(row.oldest_raw_event),
      };
    },

    async settings(): Promise<TokenAnalyticsSettings> {
      const [row] = await db.query<Record<string, number>>(
        `select extract(epoch from raw_retention)::bigint / 86400 as raw_retention_days, partitions_ahead,
                extract(epoch from revocation_lookback)::bigint as revocation_lookback_seconds,
                extract(epoch from seal_grace)::bigint as seal_grace_seconds
           from identity.token_rollup_state`,
      );
      return {
        rawRetentionDays: Number(row.raw_retention_days),
        partitionsAhead: Number(row.partitions_ahead),
        revocationLookbackSeconds: Number(row.revocation_lookback_seconds),
        sealGraceSeconds: Number(row.seal_grace_seconds),
      };
    },

    async updateSettings(update: Partial<TokenAnalyticsSettings>): Promise<TokenAnalyticsSettings> {
      await db.query(
        `update identity.token_rollup_state
            set raw_retention = coalesce(make_interval(days => $1::integer), raw_retention),
                partitions_ahead = coalesce($2::integer, partitions_ahead),
                revocation_lookback = coalesce(make_interval(secs => $3::integer), revocation_lookback),
                seal_grace = coalesce(make_interval(secs => $4::integer), seal_grace)`,
        [update.rawRetentionDays ?? null, update.partitionsAhead ?? null, update.revocationLookbackSeconds ?? null, update.sealGraceSeconds ?? null],
      );
      return this.settings();
    },
  };
}

/**
 * Creates the monthly partitions of identity.audit_logs from this month to `partitions_ahead` months
 * ahead; rows already in the default partition for a new month are moved into it. Idempotent; call it
 * periodically (e.g. daily). Returns the number of partitions created.
 */
export async function ensurePartitions(db: Queryable): Promise<number> {
  const [row] = await db.query<{ n: number }>('select identity.audit_ensure_partitions() as n');
  return Number(row.n);
}

export type AnalyticsQueries = ReturnType<typeof analyticsQueries>;
