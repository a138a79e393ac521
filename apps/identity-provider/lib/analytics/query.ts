import { z } from 'zod';
import { DEFAULT_AUDIENCE, type TimeBucket, type TokenActivityCursor } from '@idp/database-identity';
import { rowCursorParam } from '../http/cursor';
import { rfc3339, safeText } from '../security/input';

/** The dashboard's ranges: a preset ending now, or a custom [start, end). */
export const RANGE_PRESETS = ['24h', '7d', '30d', '90d'] as const;
export type RangePreset = (typeof RANGE_PRESETS)[number];
const PRESET_MS: Record<RangePreset, number> = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000, '90d': 90 * 86_400_000 };
/** Longest custom range. */
export const MAX_RANGE_DAYS = 400;
export const ACTIVITY_PAGE_SIZE = 50;
export const ACTIVITY_MAX_PAGE_SIZE = 200;
export const MAX_TOP = 50;
/** The `audience` filter: `default`, or resource identifiers (absolute URIs) separated by single spaces. */
export const AUDIENCE_DEFAULT_PARAM = 'default';
/** Bytes of UTF-8 in an audience filter (the audit writer bounds stored audiences to the same). */
export const MAX_AUDIENCE_BYTES = 1024;
export const MAX_AUDIENCE_RESOURCES = 20;

/** An IANA zone name that this runtime knows (Intl); the database is asked again and a miss is a 400 too. */
export function isTimeZone(name: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/.test(name)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * An RFC 8707 resource identifier: an absolute URI without a fragment, nothing but printable ASCII (RFC 3986
 * characters), taken as written (not normalised: it must match what the token events carry).
 */
function isResourceIdentifier(value: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/.test(value) || value.includes('#')) return false;
  try {
    new URL(value);
    return true;
  } catch {
    return false;
  }
}

/**
 * `audience=default` (the provider's default audience: events without one) or the API's identifier(s): for a
 * token for several APIs, the identifiers separated by single spaces, in any order (sorted here, as the events
 * carry them). Result: DEFAULT_AUDIENCE or the sorted, de-duplicated identifiers joined by one space.
 */
const audienceParam = z
  .string()
  .min(1, 'must not be empty')
  .max(MAX_AUDIENCE_BYTES, `must be at most ${MAX_AUDIENCE_BYTES} characters`)
  .transform((value, ctx) => {
    if (value === AUDIENCE_DEFAULT_PARAM) return DEFAULT_AUDIENCE;
    const resources = value.split(' ');
    if (resources.length > MAX_AUDIENCE_RESOURCES) {
      ctx.addIssue({ code: 'custom', message: `must name at most ${MAX_AUDIENCE_RESOURCES} resources` });
      return z.NEVER;
    }
    if (!resources.every(isResourceIdentifier)) {
      ctx.addIssue({ code: 'custom', message: `must be "${AUDIENCE_DEFAULT_PARAM}" or absolute URIs without a fragment, separated by single spaces` });
      return z.NEVER;
    }
    return [...new Set(resources)].sort().join(' ');
  });

const common = {
  range: z.enum([...RANGE_PRESETS, 'custom'], { message: `must be one of ${[...RANGE_PRESETS, 'custom'].join(', ')}` }).default('7d'),
  start: rfc3339.optional(),
  end: rfc3339.optional(),
  client_id: safeText(200).optional(),
  user_id: z.uuid('must be a UUID').optional(),
  audience: audienceParam.optional(),
};

const dashboardFields = z.object({
  ...common,
  tz: z.string().refine(isTimeZone, 'must be an IANA time zone name, e.g. Europe/Paris').default('UTC'),
  bucket: z.enum(['hour', 'day', 'week', 'month'], { message: 'must be one of hour, day, week, month' }).optional(),
  top: z.coerce
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(MAX_TOP, `must be at most ${MAX_TOP}`)
    .default(10),
  activity_limit: z.coerce
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(ACTIVITY_MAX_PAGE_SIZE, `must be at most ${ACTIVITY_MAX_PAGE_SIZE}`)
    .default(ACTIVITY_PAGE_SIZE),
});

const activityFields = z.object({
  ...common,
  limit: z.coerce
    .number({ message: 'must be a number' })
    .int('must be an integer')
    .min(1, 'must be at least 1')
    .max(ACTIVITY_MAX_PAGE_SIZE, `must be at most ${ACTIVITY_MAX_PAGE_SIZE}`)
    .default(ACTIVITY_PAGE_SIZE),
  cursor: rowCursorParam,
});

export interface ResolvedRange {
  preset: RangePreset | 'custom';
  start: Date;
  end: Date;
}

export interface DashboardQuery {
  range: ResolvedRange;
  clientId: string | null;
  userId: string | null;
  /** DEFAULT_AUDIENCE ('') for the provider's default audience; null: every audience. */
  audience: string | null;
  tz: string;
  bucket: TimeBucket | null;
  top: number;
  activityLimit: number;
}

export interface ActivityQuery {
  range: ResolvedRange;
  clientId: string | null;
  userId: string | null;
  audience: string | null;
  limit: number;
  cursor: TokenActivityCursor | null;
}

/** The range a preset or start/end stands for at `now`, or an issue naming the parameter at fault. */
function resolveRange(q: { range: RangePreset | 'custom'; start?: Date; end?: Date }, now: Date, ctx: z.RefinementCtx): ResolvedRange | typeof z.NEVER {
  const refuse = (parameter: 'start' | 'end', message: string) => {
    ctx.addIssue({ code: 'custom', path: [parameter], message });
    return z.NEVER;
  };
  if (q.range !== 'custom') {
    if (q.start) return refuse('start', 'is only allowed with range=custom');
    if (q.end) return refuse('end', 'is only allowed with range=custom');
    return { preset: q.range, start: new Date(now.getTime() - PRESET_MS[q.range]), end: now };
  }
  if (!q.start) return refuse('start', 'is required with range=custom');
  if (!q.end) return refuse('end', 'is required with range=custom');
  if (q.end.getTime() <= q.start.getTime()) return refuse('end', 'must be after start');
  if (q.end.getTime() - q.start.getTime() > MAX_RANGE_DAYS * 86_400_000) return refuse('end', `must be at most ${MAX_RANGE_DAYS} days after start`);
  return { preset: 'custom', start: q.start, end: q.end };
}

/** The query of GET /api/analytics/tokens; presets end at `now()`, read when a request is parsed. */
export const dashboardQuery = (now: () => Date = () => new Date()) =>
  dashboardFields.transform((q, ctx): DashboardQuery => ({
    range: resolveRange(q, now(), ctx),
    clientId: q.client_id ?? null,
    userId: q.user_id?.toLowerCase() ?? null,
    audience: q.audience ?? null,
    tz: q.tz,
    bucket: q.bucket ?? null,
    top: q.top,
    activityLimit: q.activity_limit,
  }));

/** The query of GET /api/analytics/tokens/activity. */
export const activityQuery = (now: () => Date = () => new Date()) =>
  activityFields.transform((q, ctx): ActivityQuery => ({
    range: resolveRange(q, now(), ctx),
    clientId: q.client_id ?? null,
    userId: q.user_id?.toLowerCase() ?? null,
    audience: q.audience ?? null,
    limit: q.limit,
    cursor: q.cursor ? { createdAt: q.cursor.at, id: q.cursor.id } : null,
  }));
