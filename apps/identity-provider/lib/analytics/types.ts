import type { TimeBucket, TokenDashboard } from '@idp/database-identity';
import type { RangePreset } from './query';

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

/** One row of the recent token activity table. */
export interface TokenActivityItem {
  id: number;
  /** ISO 8601, UTC, microseconds. */
  created_at: string;
  action: string;
  /** A failed token request (then `reason` is the RFC error code). */
  failed: boolean;
  reason: string | null;
  client_id: string | null;
  user_id: string | null;
  grant_type: string | null;
  /** The token's audience (API resource identifier(s)); null: the provider's default. */
  audience: string | null;
  ip_address: string | null;
  user_agent: string | null;
  request_id: string | null;
}

/** GET /api/analytics/tokens/activity */
export interface TokenActivityResponse {
  entries: TokenActivityItem[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  next_cursor: string | null;
}

/**
 * GET /api/analytics/tokens: everything the token analytics dashboard shows, in one response.
 * All counts are exact. Time buckets and the heatmap are in `range.tz`.
 */
export interface TokenAnalyticsResponse extends Omit<TokenDashboard, 'range'> {
  range: {
    preset: RangePreset | 'custom';
    /** ISO 8601, UTC; the range is [start, end). */
    start: string;
    end: string;
    tz: string;
    bucket: TimeBucket;
    /** False for zones with :30/:45 offsets in the range (the heatmap then comes from quarter-hour rollups). */
    hour_aligned_zone: boolean;
  };
  /** The first page of recent token activity for the same filters (more via /api/analytics/tokens/activity). */
  activity: TokenActivityResponse;
  generated_at: string;
}
