import { z } from 'zod';
import { RANGE_PRESETS } from './query';

export type {
  AudienceTokens,
  ClientTokens,
  FailureBucket,
  IssuanceBucket,
  TimeBucket,
  TokenDashboard,
  TokenLifetime,
  TokenRates,
  TokenStats,
  TopClient,
  TopUser,
} from '@idp/database-identity';

/**
 * The analytics API's answers (zod): the route wrapper checks every answer against them and the tests parse
 * with them. They mirror TokenDashboard of the data package; the routes assign it to these types, so a field
 * the SQL adds or retypes fails the typecheck until it is described here.
 */
const count = z.number().int().nonnegative();
const grants = { authorization_code: count, refresh_token: count, client_credentials: count, other: count };
const tokenCounts = { issued: count, ...grants, refreshed: count, failed: count, events: count };

/** One row of the recent token activity table. */
export const tokenActivityItemOutput = z.object({
  id: z.number().int().positive(),
  /** ISO 8601, UTC, microseconds. */
  created_at: z.string(),
  action: z.string(),
  /** A failed token request (then `reason` is the RFC error code). */
  failed: z.boolean(),
  reason: z.string().nullable(),
  client_id: z.string().nullable(),
  user_id: z.string().nullable(),
  grant_type: z.string().nullable(),
  /** The token's audience (API resource identifier(s)); null: the provider's default. */
  audience: z.string().nullable(),
  ip_address: z.string().nullable(),
  user_agent: z.string().nullable(),
  request_id: z.string().nullable(),
});
export type TokenActivityItem = z.infer<typeof tokenActivityItemOutput>;

/** GET /api/analytics/tokens/activity */
export const tokenActivityOutput = z.object({
  entries: z.array(tokenActivityItemOutput),
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  next_cursor: z.string().nullable(),
});
export type TokenActivityResponse = z.infer<typeof tokenActivityOutput>;

const bucketSchema = z.enum(['hour', 'day', 'week', 'month']);

/**
 * GET /api/analytics/tokens: everything the token analytics dashboard shows, in one response.
 * All counts are exact. Time buckets and the heatmap are in `range.tz`.
 */
export const tokenAnalyticsOutput = z.object({
  range: z.object({
    preset: z.enum([...RANGE_PRESETS, 'custom']),
    /** ISO 8601, UTC; the range is [start, end). */
    start: z.string(),
    end: z.string(),
    tz: z.string(),
    bucket: bucketSchema,
    /** False for zones with :30/:45 offsets in the range (the heatmap then comes from quarter-hour rollups). */
    hour_aligned_zone: z.boolean(),
  }),
  filters: z.object({ client_id: z.string().nullable(), user_id: z.string().nullable(), audience: z.string().nullable() }),
  stats: z.object({
    token_events: count,
    total_issued: count,
    total_refreshed: count,
    total_failed: count,
    unique_users: count,
    unique_clients: count,
    userinfo_accessed: count,
    revoked: count,
    introspected: count,
    refresh_tokens_issued: count,
    issued_by_grant: z.object(grants),
  }),
  lifetime: z.object({
    issued_avg_seconds: z.number().nullable(),
    issued_count: count,
    actual_avg_seconds: z.number().nullable(),
    actual_count: count,
  }),
  rates: z.object({ refresh_share: z.number().nullable(), refresh_token_usage_rate: z.number().nullable(), failure_rate: z.number().nullable() }),
  issuance: z.array(z.object({ start: z.string(), label: z.string(), ...grants, total: count })),
  failures: z.object({
    reasons: z.array(z.string()),
    series: z.array(z.object({ start: z.string(), label: z.string(), total: count, by_reason: z.record(z.string(), count) })),
  }),
  by_client: z.array(z.object({ client_id: z.string().nullable(), ...tokenCounts })),
  by_audience: z.array(z.object({ audience: z.string().nullable(), ...tokenCounts })),
  top_clients: z.array(z.object({ client_id: z.string().nullable(), events: count, issued: count, refreshed: count, failed: count, unique_users: count })),
  top_users: z.array(z.object({ user_id: z.string(), email: z.string().nullable(), issued: count })),
  peak: z.object({ metric: z.literal('token_events'), weekday_hour: z.array(z.array(count)) }),
  /** The first page of recent token activity for the same filters (more via /api/analytics/tokens/activity). */
  activity: tokenActivityOutput,
  generated_at: z.string(),
});
export type TokenAnalyticsResponse = z.infer<typeof tokenAnalyticsOutput>;
