import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIdentityStore, DEFAULT_AUDIENCE, FAILED_TOKEN_ACTIONS, type IdentityStore, type TimeBucket, type TokenDashboard } from '../../src';
import { driversUnderTest } from './harness';

/**
 * Token analytics: a known mix of events (every action, clients and users with and without ids, malformed
 * details, events on UTC, New York, Kolkata (+05:30) and Kathmandu (+05:45) day and quarter boundaries) is
 * written the way the audit writer writes it, and every number the queries return is checked against
 * values computed here from the raw event list, with the rollups in every state: partly sealed, fully
 * sealed, with late events in sealed hours, rebuilt, and with tiny top-k lists. Events carry audiences (none,
 * one API, two APIs, an empty string), so the "by API" breakdown and the audience filter are checked the same way.
 */

const KEY_SECRET = 'k'.repeat(16) + 'contract-suite-key-material';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const ZONES = ['UTC', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu'] as const;
const FAILED = new Set<string>(FAILED_TOKEN_ACTIONS);

interface Ev {
  eventId: string;
  at: Date;
  action: string;
  userId: string | null;
  clientId: string | null;
  grantType: string | null;
  details: Record<string, unknown>;
  /** The token's audience as stored (null, '' and '*' count as the provider's default audience). */
  audience: string | null;
  seq: number;
}

// --- deterministic data ---------------------------------------------------------------------------------

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CLIENTS = ['spa', 'web', 'mobile', 'backend', 'partner', 'legacy'];
const REASONS = ['invalid_grant', 'invalid_request', 'invalid_scope', 'unsupported_grant_type'];
const API = 'https://api.example.com';
const BILLING = 'https://billing.example.com/v1';
// stored audiences, weighted: mostly the default (null), then one API, two (sorted, one space), and rarities
const AUDIENCES: (string | null)[] = [null, null, null, API, API, BILLING, `${API} ${BILLING}`, '', '*'];
/** An event's audience as the analytics count it ('' the provider's default). */
const audienceOf = (e: Ev) => (e.audience === null || e.audience === '*' ? '' : e.audience);

function buildEvents(anchor: number, userIds: string[], seed: number, count: number, spanMs: number, seqStart: number): Ev[] {
  const r = rng(seed);
  // audiences from a generator of their own: the rest of the data stays what it was
  const ra = rng(seed * 7919 + 1);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)];
  // skewed users: the first ones are much more active
  const user = () => userIds[Math.min(userIds.length - 1, Math.floor(userIds.length * r() ** 2.5))];
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(anchor - 1000 - Math.floor(r() * spanMs));
  // boundaries: UTC midnight, New York, Kolkata and Kathmandu midnights, quarter hours; +-1 ms and +-1 s
  for (let d = 1; d <= Math.floor(spanMs / DAY); d++) {
    const utcMidnight = Math.floor((anchor - d * DAY) / DAY) * DAY;
    for (const offset of [0, 5 * HOUR, 4 * HOUR, -5.5 * HOUR, -5.75 * HOUR, 15 * 60_000, 45 * 60_000]) {
      for (const eps of [-1000, -1, 0, 1, 1000]) {
        const t = utcMidnight + offset + eps;
        if (t < anchor && t > anchor - spanMs) times.push(t);
      }
    }
  }
  const events: Ev[] = [];
  const issued: Ev[] = [];
  let seq = seqStart;
  const iso = (ms: number) => new Date(ms).toISOString();
  for (const t of times.sort((a, b) => a - b)) {
    const x = r();
    const clientId = r() < 0.04 ? null : pick(CLIENTS);
    const userId = r() < 0.05 ? null : user();
    let e: Omit<Ev, 'seq' | 'eventId' | 'at' | 'audience'>;
    if (x < 0.16) {
      const ttl = pick([900, 900, 3600, 300]);
      e = {
        action: 'token.issued.authorization_code',
        clientId,
        userId,
        grantType: 'authorization_code',
        details: {
          jti: randomUUID(),
          family_id: randomUUID(),
          issued_at: iso(t),
          expires_at: iso(t + ttl * 1000),
          refresh_token_expires_at: r() < 0.6 ? iso(t + 30 * DAY) : null,
          scopes: ['openid'],
        },
      };
    } else if (x < 0.28) {
      e = {
        action: 'token.issued.refresh_token',
        clientId,
        userId,
        grantType: 'refresh_token',
        details: {
          jti: randomUUID(),
          issued_at: iso(t),
          expires_at: iso(t + 900_000),
          refresh_token_expires_at: iso(t + 30 * DAY),
        },
      };
    } else if (x < 0.34) {
      e = {
        action: 'token.issued.client_credentials',
        clientId,
        userId: null,
        grantType: 'client_credentials',
        details: {
          jti: randomUUID(),
          issued_at: iso(t - Math.floor(r() * 2000)),
          expires_at: iso(t + 600_000),
        },
      };
    } else if (x < 0.46) {
      const prev = r() < 0.1 ? pick(['not a date', '2026-02-30T00:00:00.000Z', 42]) : iso(t - Math.floor(r() * 3 * DAY));
      e = { action: 'token.refreshed', clientId, userId, grantType: 'refresh_token', details: { previous_issued_at: prev } };
    } else if (x < 0.56) {
      e = { action: 'token.userinfo_accessed', clientId, userId, grantType: null, details: {} };
    } else if (x < 0.6) {
      e = { action: 'token.introspected', clientId, userId, grantType: null, details: {} };
    } else if (x < 0.68) {
      // revoked: an access token issued shortly before (found by jti), one whose issuer is out of reach,
      // or a refresh token that says when it was issued
      const recent = issued.filter((i) => i.at.getTime() > t - 40 * 60_000);
      const y = r();
      const details: Record<string, unknown> =
        y < 0.5 && recent.length
          ? { token_type: 'access_token', jti: pick(recent).details.jti }
          : y < 0.7
            ? { token_type: 'access_token', jti: randomUUID() }
            : { token_type: 'refresh_token', issued_at: r() < 0.8 ? iso(t - Math.floor(r() * 5 * DAY)) : 'garbage' };
      e = { action: 'token.revoked', clientId, userId, grantType: null, details };
    } else if (x < 0.86) {
      const action = pick(FAILED_TOKEN_ACTIONS);
      const reason = action === 'client.auth_failed' ? 'invalid_client' : r() < 0.1 ? undefined : pick(REASONS);
      e = {
        action,
        clientId: action === 'token.validation_failed' && r() < 0.3 ? null : clientId,
        userId: action === 'client.auth_failed' ? null : userId,
        grantType: r() < 0.5 ? 'authorization_code' : null,
        details: reason === undefined ? {} : { reason },
      };
    } else {
      // not token events: ignored by every token number
      e = {
        action: pick(['auth.login_succeeded', 'auth.login_failed', 'security.rate_limited']),
        clientId,
        userId,
        grantType: null,
        details: { reason: 'bad_password' },
      };
    }
    const ev: Ev = { ...e, at: new Date(t), eventId: randomUUID(), audience: AUDIENCES[Math.floor(ra() * AUDIENCES.length)], seq: seq++ };
    events.push(ev);
    if (ev.action.startsWith('token.issued.')) issued.push(ev);
  }
  return events;
}

// --- the reference: computed from the raw list ------------------------------------------------------------

const isTokenEvent = (e: Ev) => e.action.startsWith('token.') || e.action === 'client.auth_failed';
const isIssued = (e: Ev) => e.action.startsWith('token.issued.');

/** The app's timestamp format, and a real calendar date; anything else is unknown. */
function ts(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) || new Date(ms).toISOString() !== value ? null : ms;
}

const round = (x: number, digits: number) => Number(x.toFixed(digits));

function localParts(ms: number, tz: string) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', weekday: 'short' })
      .formatToParts(new Date(ms))
      .map((p) => [p.type, p.value]),
  );
  const date = `${parts.year}-${parts.month}-${parts.day}`;
  const isoDow = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(parts.weekday) + 1;
  return { date, hour: Number(parts.hour), isoDow };
}

function bucketLabel(ms: number, tz: string, bucket: TimeBucket): string {
  const { date, hour, isoDow } = localParts(ms, tz);
  if (bucket === 'hour') return `${date}T${String(hour).padStart(2, '0')}:00`;
  if (bucket === 'day') return date;
  if (bucket === 'month') return `${date.slice(0, 8)}01`;
  const monday = new Date(Date.parse(`${date}T00:00:00Z`) - (isoDow - 1) * DAY);
  return monday.toISOString().slice(0, 10);
}

interface Filter {
  start: number;
  end: number;
  clientId?: string | null;
  userId?: string | null;
  audience?: string | null;
}

function select(all: Ev[], f: Filter): Ev[] {
  return all.filter(
    (e) =>
      isTokenEvent(e) &&
      e.at.getTime() >= f.start &&
      e.at.getTime() < f.end &&
      (f.clientId == null || e.clientId === f.clientId) &&
      (f.userId == null || e.userId === f.userId) &&
      (f.audience == null || audienceOf(e) === f.audience),
  );
}

function endedUs(e: Ev, all: Ev[], lookbackMs: number): number | null {
  if (e.action === 'token.refreshed') {
    const prev = ts(e.details.previous_issued_at);
    return prev === null ? null : (e.at.getTime() - prev) * 1000;
  }
  if (e.action !== 'token.revoked') return null;
  const own = ts(e.details.issued_at);
  if (own !== null) return (e.at.getTime() - own) * 1000;
  if (e.details.token_type !== 'access_token' || typeof e.details.jti !== 'string') return null;
  const hour = Math.floor(e.at.getTime() / HOUR) * HOUR;
  const hits = all.filter((i) => isIssued(i) && i.details.jti === e.details.jti && i.at.getTime() >= hour - lookbackMs && i.at.getTime() < hour + HOUR);
  if (!hits.length) return null;
  const hit = hits.sort((a, b) => b.at.getTime() - a.at.getTime() || b.seq - a.seq)[0];
  return (e.at.getTime() - (ts(hit.details.issued_at) ?? hit.at.getTime())) * 1000;
}

function counts(evs: Ev[]) {
  const n = (p: (e: Ev) => boolean) => evs.filter(p).length;
  const issued = n(isIssued);
  const ac = n((e) => e.action === 'token.issued.authorization_code');
  const rt = n((e) => e.action === 'token.issued.refresh_token');
  const cc = n((e) => e.action === 'token.issued.client_credentials');
  return {
    events: evs.length,
    issued,
    ac,
    rt,
    cc,
    other: issued - ac - rt - cc,
    refreshed: n((e) => e.action === 'token.refreshed'),
    failed: n((e) => FAILED.has(e.action)),
  };
}

function expected(all: Ev[], f: Filter, tz: string, bucket: TimeBucket, top: number, emails: Map<string, string>, lookbackMs: number) {
  const evs = select(all, f);
  const c = counts(evs);
  const distinct = (xs: (string | null)[]) => new Set(xs.filter((x): x is string => x !== null)).size;
  const lifetimes = evs.filter(isIssued).flatMap((e) => {
    const exp = ts(e.details.expires_at);
    const iss = ts(e.details.issued_at);
    return exp !== null && iss !== null ? [(exp - iss) * 1000] : [];
  });
  const ended = evs.flatMap((e) => {
    const us = endedUs(e, all, lookbackMs);
    return us === null ? [] : [us];
  });
  const rti = evs.filter((e) => isIssued(e) && e.details.refresh_token_expires_at != null).length;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const stats = {
    token_events: c.events,
    total_issued: c.issued,
    total_refreshed: c.refreshed,
    total_failed: c.failed,
    unique_users: distinct(evs.map((e) => e.userId)),
    unique_clients: distinct(evs.map((e) => e.clientId)),
    userinfo_accessed: evs.filter((e) => e.action === 'token.userinfo_accessed').length,
    revoked: evs.filter((e) => e.action === 'token.revoked').length,
    introspected: evs.filter((e) => e.action === 'token.introspected').length,
    refresh_tokens_issued: rti,
    issued_by_grant: { authorization_code: c.ac, refresh_token: c.rt, client_credentials: c.cc, other: c.other },
  };
  const lifetime = {
    issued_avg_seconds: lifetimes.length ? round(sum(lifetimes) / lifetimes.length / 1e6, 3) : null,
    issued_count: lifetimes.length,
    actual_avg_seconds: ended.length ? round(sum(ended) / ended.length / 1e6, 3) : null,
    actual_count: ended.length,
  };
  const rates = {
    refresh_share: c.issued ? round(c.rt / c.issued, 6) : null,
    refresh_token_usage_rate: rti ? round(c.refreshed / rti, 6) : null,
    failure_rate: c.issued + c.failed ? round(c.failed / (c.issued + c.failed), 6) : null,
  };
  const byLabel = new Map<string, Ev[]>();
  for (const e of evs) {
    const label = bucketLabel(e.at.getTime(), tz, bucket);
    byLabel.set(label, [...(byLabel.get(label) ?? []), e]);
  }
  const issuance = new Map(
    [...byLabel].map(([label, xs]) => {
      const k = counts(xs);
      return [label, { authorization_code: k.ac, refresh_token: k.rt, client_credentials: k.cc, other: k.other, total: k.issued }];
    }),
  );
  const failureSeries = new Map(
    [...byLabel].map(([label, xs]) => {
      const byReason: Record<string, number> = {};
      for (const e of xs.filter((x) => FAILED.has(x.action))) {
        const reason = e.details.reason === undefined || e.details.reason === null ? 'unknown' : String(e.details.reason);
        byReason[reason] = (byReason[reason] ?? 0) + 1;
      }
      return [label, { total: counts(xs).failed, by_reason: byReason }];
    }),
  );
  const reasons = new Map<string, number>();
  for (const s of failureSeries.values()) for (const [k, v] of Object.entries(s.by_reason)) reasons.set(k, (reasons.get(k) ?? 0) + v);

  const clientIds = [...new Set(evs.map((e) => e.clientId))];
  const cmpClient = (a: string | null, b: string | null) => (a === b ? 0 : a === null ? 1 : b === null ? -1 : a < b ? -1 : 1);
  const perClient = clientIds.map((id) => {
    const xs = evs.filter((e) => e.clientId === id);
    const k = counts(xs);
    return {
      client_id: id,
      issued: k.issued,
      authorization_code: k.ac,
      refresh_token: k.rt,
      client_credentials: k.cc,
      other: k.other,
      refreshed: k.refreshed,
      failed: k.failed,
      events: k.events,
      unique_users: distinct(xs.map((e) => e.userId)),
    };
  });
  const byClient = [...perClient]
    .sort((a, b) => b.issued - a.issued || b.events - a.events || cmpClient(a.client_id, b.client_id))
    .map(({ unique_users: _u, ...rest }) => rest);
  const topClients = [...perClient]
    .sort((a, b) => b.events - a.events || cmpClient(a.client_id, b.client_id))
    .slice(0, top)
    .map((x) => ({ client_id: x.client_id, events: x.events, issued: x.issued, refreshed: x.refreshed, failed: x.failed, unique_users: x.unique_users }));

  const byAudience = [...new Set(evs.map(audienceOf))]
    .map((a) => {
      const k = counts(evs.filter((e) => audienceOf(e) === a));
      return {
        audience: a,
        issued: k.issued,
        authorization_code: k.ac,
        refresh_token: k.rt,
        client_credentials: k.cc,
        other: k.other,
        refreshed: k.refreshed,
        failed: k.failed,
        events: k.events,
      };
    })
    .sort((a, b) => b.issued - a.issued || b.events - a.events || (a.audience < b.audience ? -1 : a.audience > b.audience ? 1 : 0))
    .map((x) => ({ ...x, audience: x.audience === '' ? null : x.audience }));

  const perUser = new Map<string, number>();
  for (const e of evs) if (e.userId && isIssued(e)) perUser.set(e.userId, (perUser.get(e.userId) ?? 0) + 1);
  const topUsers = [...perUser]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, top)
    .map(([user_id, issued]) => ({ user_id, email: emails.get(user_id) ?? null, issued }));

  const heat = Array.from({ length: 7 }, () => Array<number>(24).fill(0));
  for (const e of evs) {
    const { isoDow, hour } = localParts(e.at.getTime(), tz);
    heat[isoDow - 1][hour]++;
  }
  return { stats, lifetime, rates, issuance, failureSeries, reasons, byClient, byAudience, topClients, topUsers, heat };
}

function check(got: TokenDashboard, want: ReturnType<typeof expected>, what: string) {
  expect(got.stats, `${what}: stats`).toEqual(want.stats);
  expect(got.lifetime.issued_count, `${what}: lifetime`).toBe(want.lifetime.issued_count);
  expect(got.lifetime.actual_count, `${what}: lifetime`).toBe(want.lifetime.actual_count);
  for (const key of ['issued_avg_seconds', 'actual_avg_seconds'] as const) {
    if (want.lifetime[key] === null) expect(got.lifetime[key], `${what}: ${key}`).toBeNull();
    // both sides round to the millisecond, the database half away from zero on the exact decimal, the test
    // in binary floating point: a mean ending in exactly .xxx5 may come out one millisecond apart
    else expect(Math.abs(got.lifetime[key]! - want.lifetime[key]!), `${what}: ${key}`).toBeLessThanOrEqual(0.001 + 1e-9);
  }
  for (const key of ['refresh_share', 'refresh_token_usage_rate', 'failure_rate'] as const) {
    if (want.rates[key] === null) expect(got.rates[key], `${what}: ${key}`).toBeNull();
    else expect(got.rates[key], `${what}: ${key}`).toBeCloseTo(want.rates[key]!, 6);
  }
  // every event's bucket is one of the returned buckets, and every bucket has the expected numbers
  const labels = new Set(got.issuance.map((b) => b.label));
  for (const label of want.issuance.keys()) expect(labels.has(label), `${what}: bucket ${label}`).toBe(true);
  const zeroIssuance = { authorization_code: 0, refresh_token: 0, client_credentials: 0, other: 0, total: 0 };
  for (const b of got.issuance) {
    const { start: _s, label, ...numbers } = b;
    expect(numbers, `${what}: issuance ${label}`).toEqual(want.issuance.get(label) ?? zeroIssuance);
  }
  expect(got.failures.series.map((b) => b.label)).toEqual(got.issuance.map((b) => b.label));
  for (const b of got.failures.series) {
    expect({ total: b.total, by_reason: b.by_reason }, `${what}: failures ${b.label}`).toEqual(want.failureSeries.get(b.label) ?? { total: 0, by_reason: {} });
  }
  expect([...got.failures.reasons].sort()).toEqual([...want.reasons.keys()].sort());
  expect(got.by_client, `${what}: by_client`).toEqual(want.byClient);
  expect(got.by_audience, `${what}: by_audience`).toEqual(want.byAudience);
  expect(got.top_clients, `${what}: top_clients`).toEqual(want.topClients);
  expect(got.top_users, `${what}: top_users`).toEqual(want.topUsers);
  expect(got.peak.weekday_hour, `${what}: peak`).toEqual(want.heat);
}

// --- the suite ----------------------------------------------------------------------------------------------

describe.each(driversUnderTest())('token analytics on $name', (driver) => {
  let store: IdentityStore;
  let all: Ev[] = [];
  let anchor: number;
  const emails = new Map<string, string>();
  let userIds: string[] = [];
  let lookbackMs = HOUR;

  async function write(events: Ev[], batch = 97) {
    for (let i = 0; i < events.length; i += batch) {
      const rows = events.slice(i, i + batch);
      const values: unknown[] = [];
      const tuples = rows.map((e, k) => {
        values.push(
          e.eventId,
          e.at.toISOString(),
          e.action,
          e.userId,
          e.clientId,
          e.grantType,
          '10.0.0.1',
          'test',
          null,
          'oauth_token',
          e.clientId,
          e.details,
          e.audience,
        );
        return `(${Array.from({ length: 13 }, (_, j) => `$${k * 13 + j + 1}`).join(', ')})`;
      });
      // as the audit writer does it: one multi-row insert per batch, replays ignored
      await store.db.query(
        `insert into identity.audit_logs (event_id, created_at, action, user_id, client_id, grant_type, ip_address, user_agent, request_id, resource_type, resource_id, details, audience)
         values ${tuples.join(', ')} on conflict (event_id, created_at) do nothing`,
        values,
      );
    }
  }

  /** The dashboard for a set of filters, in every zone, against the reference. */
  async function verify(f: Filter, bucket: TimeBucket, what: string, zones: readonly string[] = ZONES) {
    for (const tz of zones) {
      const got = await store.analytics.dashboard({
        start: new Date(f.start),
        end: new Date(f.end),
        clientId: f.clientId,
        userId: f.userId,
        audience: f.audience,
        timeZone: tz,
        bucket,
        top: 5,
      });
      expect(got.filters.audience, what).toBe(f.audience ?? null);
      check(got, expected(all, f, tz, bucket, 5, emails, lookbackMs), `${what} ${tz} ${bucket}`);
    }
  }

  async function verifyMany(what: string) {
    const q = 15 * 60_000;
    const start = anchor - 9 * DAY;
    await verify({ start, end: anchor }, 'day', `${what} all`);
    await verify({ start: anchor - 8 * DAY + 7 * 60_000 + 123, end: anchor - 37_777 }, 'week', `${what} odd edges`);
    await verify({ start: anchor - 36 * HOUR - q / 2, end: anchor - 3 * HOUR + 1 }, 'hour', `${what} hours`);
    await verify({ start: anchor - 6 * DAY, end: anchor - 2 * DAY - 5 * q, clientId: 'web' }, 'day', `${what} client web`);
    await verify({ start, end: anchor, clientId: 'partner' }, 'month', `${what} client partner`, ['Asia/Kathmandu']);
    await verify({ start, end: anchor, userId: userIds[0] }, 'day', `${what} user`, ['UTC', 'Asia/Kathmandu']);
    await verify({ start: anchor - 5 * DAY - 3, end: anchor, userId: userIds[2], clientId: 'spa' }, 'day', `${what} user+client`, ['Asia/Kolkata']);
    // by API: one audience, the default one, two APIs at once, with a client and with a user
    await verify({ start, end: anchor, audience: API }, 'day', `${what} audience`, ['UTC', 'Asia/Kathmandu']);
    await verify({ start: anchor - 36 * HOUR - q / 2, end: anchor - 3 * HOUR + 1, audience: DEFAULT_AUDIENCE }, 'hour', `${what} default audience`, ['UTC']);
    await verify(
      { start: anchor - 6 * DAY, end: anchor - 2 * DAY - 5 * q, audience: `${API} ${BILLING}`, clientId: 'web' },
      'day',
      `${what} audiences+client`,
      ['America/New_York'],
    );
    await verify({ start, end: anchor, audience: BILLING, userId: userIds[0] }, 'day', `${what} audience+user`, ['UTC']);
    await verify({ start, end: anchor, audience: 'https://unknown.example.com' }, 'day', `${what} unknown audience`, ['UTC']);
  }

  async function verifyStory(what: string) {
    const cases: [number, number, string | null, string | null][] = [
      [anchor - 9 * DAY, anchor, null, null],
      [anchor - 3 * DAY - 1, anchor - DAY + 17, 'mobile', null],
      [anchor - 50 * HOUR, anchor - 49 * HOUR, null, null],
      [anchor - 9 * DAY, anchor, null, API],
      [anchor - 3 * DAY - 1, anchor - DAY + 17, 'mobile', DEFAULT_AUDIENCE],
    ];
    for (const [s, e, c, a] of cases) {
      const evs = all.filter(
        (x) => isTokenEvent(x) && x.at.getTime() >= s && x.at.getTime() <= e && (c === null || x.clientId === c) && (a === null || audienceOf(x) === a),
      );
      const k = counts(evs);
      expect(await store.analytics.stats(new Date(s), new Date(e), c, a), `${what}: get_token_stats`).toEqual({
        total_issued: k.issued,
        total_refreshed: k.refreshed,
        total_failed: k.failed,
        unique_users: new Set(evs.map((x) => x.userId).filter(Boolean)).size,
        unique_clients: new Set(evs.map((x) => x.clientId).filter((x) => x !== null)).size,
      });
    }
    const view = await store.db.query<{ date: string; action: string; client_id: string | null; grant_type: string | null; count: number }>(
      `select to_char(date, 'YYYY-MM-DD') as date, action, client_id, grant_type, count from identity.token_analytics`,
    );
    const want = new Map<string, number>();
    for (const x of all.filter((e) => e.action.startsWith('token.'))) {
      const key = JSON.stringify([x.at.toISOString().slice(0, 10), x.action, x.clientId, x.grantType]);
      want.set(key, (want.get(key) ?? 0) + 1);
    }
    const got = new Map(view.map((r) => [JSON.stringify([r.date, r.action, r.client_id, r.grant_type]), Number(r.count)]));
    expect(got, `${what}: token_analytics`).toEqual(want);
  }

  async function rollupSnapshot() {
    return store.db.query(
      `select grain, bucket, all_clients, client_id, events, issued, issued_authorization_code, issued_refresh_token, issued_client_credentials,
              refresh_tokens_issued, refreshed, failed, userinfo, revoked, introspected, lifetime_us, lifetime_n, ended_us, ended_n,
              failures, actions, top_list, top_tail, all_list, audience
         from identity.token_rollup order by grain, bucket, all_clients, client_id nulls first, audience`,
    );
  }

  beforeAll(async () => {
    // the sealing clock stands still: an hour cannot become sealable between an incremental pass and the rebuild it is compared with
    const now = new Date();
    const db = await driver.openMigrated({ analyticsClock: now });
    store = createIdentityStore(db, KEY_SECRET);
    // hours end on the hour: the newest events are in the current (unsealed) hour
    anchor = now.getTime() - 2000;
    for (let i = 0; i < 40; i++) {
      if (i < 6) {
        const u = await store.users.create({ email: `analytics-${i}@example.org`, password: 'a long enough password' });
        emails.set(u.id, u.email);
        userIds.push(u.id);
      } else {
        userIds.push(randomUUID());
      }
    }
    userIds = [...userIds];
    lookbackMs = (await store.analytics.settings()).revocationLookbackSeconds * 1000;
  });
  afterAll(async () => {
    await store?.close();
    await driver.cleanup();
  });

  it('answers exactly while hours are being sealed (mixed rollups and raw rows)', async () => {
    // written oldest first in batches: the trigger seals a few closed hours per batch as it goes
    all = buildEvents(anchor, userIds, 7, 1400, 9 * DAY, 0);
    await write(all);
    const state = await store.db.query<{ unsealed: boolean }>(`select watermark < now() - interval '3 hours' as unsealed from identity.token_rollup_state`);
    expect(state[0].unsealed).toBe(true);
    await verifyMany('partly sealed');
    await verifyStory('partly sealed');
  });

  it('answers the same once every closed hour is sealed', async () => {
    expect(await store.analytics.sealPending()).toBeGreaterThan(0);
    const [{ dirty, hours }] = await store.db.query<{ dirty: number; hours: number }>(
      `select (select count(*) from identity.token_rollup_dirty)::int as dirty,
              (select count(*) from identity.token_rollup where grain = 'h' and all_clients and audience = '*')::int as hours`,
    );
    expect(dirty).toBe(0);
    expect(hours).toBeGreaterThan(100);
    await verifyMany('sealed');
    await verifyStory('sealed');
  });

  it('takes late events into sealed hours (and replays) exactly, and a rebuild agrees with the incremental rollups', async () => {
    const late = buildEvents(anchor - 2 * DAY, userIds, 11, 250, 5 * DAY, 100_000);
    await write(late.slice(0, 120));
    await write(late.slice(0, 40)); // a replayed batch: ignored
    await write(late.slice(120));
    all = [...all, ...late];
    const [{ dirty }] = await store.db.query<{ dirty: number }>(`select count(*)::int as dirty from identity.token_rollup_dirty`);
    expect(dirty).toBeGreaterThan(0);
    await verifyMany('late events');
    // on every connection of the pool, the sealing clock is the frozen instant
    const clocks = await Promise.all(
      [1, 2, 3].map(() => store.db.query<{ ms: number }>(`select (extract(epoch from identity.token_clock()) * 1000)::float8 as ms`)),
    );
    for (const [{ ms }] of clocks) expect(ms).toBe(anchor + 2000);
    await store.analytics.sealPending();
    await verifyMany('late events resealed');
    await verifyStory('late events resealed');

    const incremental = await rollupSnapshot();
    const users = await store.db.query(
      `select grain, bucket, all_clients, client_id, audience, chunk, members::text from identity.token_rollup_users order by 1, 2, 3, 4, 5, 6`,
    );
    await store.analytics.rebuild();
    expect(await rollupSnapshot()).toEqual(incremental);
    expect(
      await store.db.query(
        `select grain, bucket, all_clients, client_id, audience, chunk, members::text from identity.token_rollup_users order by 1, 2, 3, 4, 5, 6`,
      ),
    ).toEqual(users);
    await verifyMany('rebuilt');
  }, 180_000);

  it('finds the exact top users when the per-block lists are too short to decide', async () => {
    for (const k of [1, 3]) {
      await store.db.query('update identity.token_rollup_state set top_k = $1', [k]);
      await store.analytics.rebuild();
      for (const top of [1, 5, 12]) {
        for (const f of [
          { start: anchor - 9 * DAY, end: anchor },
          { start: anchor - 4 * DAY - 999, end: anchor - DAY + 1, clientId: 'backend' },
        ]) {
          const got = await store.analytics.dashboard({ start: new Date(f.start), end: new Date(f.end), clientId: f.clientId, top });
          expect(got.top_users, `top_k ${k}, top ${top}`).toEqual(expected(all, f, 'UTC', 'day', top, emails, lookbackMs).topUsers);
        }
      }
    }
    await store.db.query('update identity.token_rollup_state set top_k = 64');
    await store.analytics.rebuild();
  });

  it('pages recent token activity by (created_at, id), with filters', async () => {
    const f = { start: anchor - 3 * DAY, end: anchor - DAY };
    for (const filter of [{}, { clientId: 'web' }, { userId: userIds[1] }, { audience: API }, { audience: DEFAULT_AUDIENCE }] as {
      clientId?: string;
      userId?: string;
      audience?: string;
    }[]) {
      const want = all
        .filter(
          (e) =>
            isTokenEvent(e) &&
            e.at.getTime() >= f.start &&
            e.at.getTime() < f.end &&
            (!('clientId' in filter) || e.clientId === filter.clientId) &&
            (!('userId' in filter) || e.userId === filter.userId) &&
            (!('audience' in filter) || audienceOf(e) === filter.audience),
        )
        .sort((a, b) => b.at.getTime() - a.at.getTime() || b.seq - a.seq);
      const seen: {
        at: string;
        action: string;
        clientId: string | null;
        userId: string | null;
        audience: string | null;
        failed: boolean;
        reason: string | null;
      }[] = [];
      let cursor = null;
      do {
        const page = await store.analytics.activity({ start: new Date(f.start), end: new Date(f.end), ...filter, cursor, limit: 37 });
        expect(page.entries.length).toBeLessThanOrEqual(37);
        seen.push(
          ...page.entries.map((e) => ({
            at: e.createdAt,
            action: e.action,
            clientId: e.clientId,
            userId: e.userId,
            audience: e.audience,
            failed: e.failed,
            reason: e.reason,
          })),
        );
        cursor = page.next;
      } while (cursor);
      expect(seen).toEqual(
        want.map((e) => ({
          at: e.at.toISOString().replace('Z', '000Z'),
          action: e.action,
          clientId: e.clientId,
          userId: e.userId,
          audience: audienceOf(e) || null,
          failed: FAILED.has(e.action),
          reason: FAILED.has(e.action) ? ((e.details.reason as string | undefined) ?? null) : null,
        })),
      );
    }
  });

  it('keeps the rollups when retention drops raw months, and creates partitions ahead', async () => {
    const old = buildEvents(anchor - 120 * DAY, userIds, 13, 200, 3 * DAY, 200_000);
    await write(old);
    all = [...all, ...old];
    await store.analytics.sealPending();
    // months of their own (the rows move out of the default partition)
    await store.db.query(`select identity.audit_ensure_partitions(now() - interval '130 days')`);
    const f = { start: anchor - 124 * DAY, end: anchor - 116 * DAY };
    const before = await store.analytics.dashboard({ start: new Date(f.start), end: new Date(f.end), timeZone: 'UTC', bucket: 'day' });
    check(before, expected(all, f, 'UTC', 'day', 10, emails, lookbackMs), 'old data');
    const partitions = async () =>
      (
        await store.db.query<{ n: string }>(
          `select c.relname as n from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'identity.audit_logs'::regclass order by 1`,
        )
      ).map((r) => r.n);
    const ahead = new Date();
    ahead.setUTCMonth(ahead.getUTCMonth() + 3, 1);
    expect(await partitions()).toContain(`audit_logs_p${ahead.getUTCFullYear()}_${String(ahead.getUTCMonth() + 1).padStart(2, '0')}`);
    await store.analytics.ensurePartitions();
    const before_ = await partitions();
    const dropped = await store.analytics.applyRetention(60);
    expect(dropped).toBeGreaterThan(0);
    expect((await partitions()).length).toBe(before_.length - dropped);
    const [{ n }] = await store.db.query<{ n: number }>(`select count(*)::int as n from identity.audit_logs where created_at < now() - interval '60 days'`);
    expect(n).toBe(0);
    // the rollups still answer for the dropped months: whole sealed hours and days need no raw rows
    const hourAligned = { start: Math.ceil(f.start / DAY) * DAY, end: Math.floor(f.end / DAY) * DAY };
    const after = await store.analytics.dashboard({
      start: new Date(hourAligned.start),
      end: new Date(hourAligned.end),
      timeZone: 'Asia/Kolkata',
      bucket: 'day',
    });
    check(after, expected(all, hourAligned, 'Asia/Kolkata', 'day', 10, emails, lookbackMs), 'after retention');
  });
});
