/**
 * Token analytics benchmark, on the database loaded by generate.ts:
 *
 *  1. latency of the whole dashboard (what GET /api/analytics/tokens runs: identity.token_dashboard plus the
 *     first activity page) for 24 h, 7 and 90 days, without and with a client filter, for a user, in a
 *     :30 zone; side by side with the story's original get_token_stats SQL on the same data;
 *  2. the cost of rollup upkeep on audit writes: the audit writer's exact batched insert (500 events per
 *     statement) with the rollup trigger on and off, over 24 simulated hours of traffic at the data's density,
 *     with the sealing clock (identity.analytics_clock) following the events so every hour gets sealed and
 *     every day built, as in production;
 *  3. (only with --only seal) the sealing of one hour by itself: the same simulated hours inserted with the
 *     trigger off, each then sealed once (identity.token_rollup_seal_hour) and timed, all rolled back.
 *
 *   npx tsx bench/analytics/bench.ts [--iterations 30] [--only latency|writes|seal] [--hours 24] [--json out.json]
 *                                    [--max-seconds 90]   (a scenario stops early after this long, with >= 3 samples)
 *                                    [--warmup 2]         (unmeasured calls first; the analytics pool has 2 connections)
 *                                    [--raw-hours 0]      (newest sealed hours read raw: a worst-case raw remainder)
 *                                    [--scenarios '7d,90d'] [--sealer background|trigger] [--pool analytics|shared]
 */
import postgres from 'postgres';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { analyticsQueries, openAnalyticsDatabase, openDatabase } from '../../packages/database-identity/src';

const { values } = parseArgs({
  options: {
    iterations: { type: 'string', default: '30' },
    'story-iterations': { type: 'string', default: '5' },
    only: { type: 'string' },
    hours: { type: 'string', default: '24' },
    'max-seconds': { type: 'string', default: '90' },
    warmup: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '2' },
    sealer: { type: 'string', default: 'background' },
    'raw-hours': { type: 'string', default: '0' },
    scenarios: { type: 'string' },
    pool: { type: 'string', default: 'analytics' },
    json: { type: 'string' },
  },
});
const URL_ = process.env.BENCH_ANALYTICS_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/idp_bench_analytics';
const sql = postgres(URL_, { max: 2, prepare: false, onnotice: () => {}, types: { bigint: postgres.BigInt } });
const results: Record<string, unknown> = { database: new URL(URL_).pathname.slice(1), at: new Date().toISOString() };

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);

async function latency() {
  // the provider's analytics pool (2 connections, kept open), as the dashboard route uses it; --pool shared: a
  // pool of 4 like the main one (connections closed after 60 s idle), as before the analytics pool existed
  const db =
    values.pool === 'shared'
      ? await openDatabase({ databaseUrl: URL_, maxConnections: 4, statementTimeoutMs: 0 })
      : await openAnalyticsDatabase({ databaseUrl: URL_, statementTimeoutMs: 0 });
  const analytics = analyticsQueries(db);
  const [{ n }] = await sql`select count(*)::int as n from identity.audit_logs`;
  // a client in the middle of the pack, the busiest client, a typical user and the busiest user (last 90 days)
  const clients = await sql<{ client_id: string; n: number }[]>`
    select client_id, count(*)::int as n from identity.audit_logs where created_at > now() - interval '7 days' and client_id is not null
     group by 1 order by 2 desc`;
  const median = clients[Math.floor(clients.length / 2)].client_id;
  const busiest = clients[0].client_id;
  const users = await sql<{ user_id: string; n: number }[]>`
    select user_id, count(*)::int as n from identity.audit_logs
     where created_at > now() - interval '1 day' and user_id is not null group by 1 order by 2 desc`;
  const heavyUser = users[0].user_id;
  const typicalUser = users[Math.floor(users.length / 2)].user_id;
  const [{ heavy90 }] = await sql`select count(*)::int as heavy90 from identity.audit_logs where user_id = ${heavyUser}`;
  // the API (audience) with the most issued tokens in the last 7 days, and the one with the fewest
  const apis = await sql<{ audience: string; n: number }[]>`
    select audience, count(*)::int as n from identity.audit_logs where created_at > now() - interval '7 days' and audience is not null
     group by 1 order by 2 desc, 1`;
  const busiestApi = apis[0]?.audience;
  const quietestApi = apis[apis.length - 1]?.audience;
  console.log(`${n} events; clients: median ${median}, busiest ${busiest}; users: busiest ${heavyUser} (${heavy90} events)`);
  // --raw-hours H: the H newest sealed hours are marked dirty for the run, so every call reads them raw as it
  // reads the unsealed remainder (the worst case in production: the previous hour during its seal grace, plus
  // the current one); resealed afterwards
  const rawHours = Number(values['raw-hours']);
  const dirtied =
    rawHours > 0
      ? await sql<{ h: Date }[]>`
    insert into identity.token_rollup_dirty (grain, bucket)
    select 'h', s.watermark - x * interval '1 hour' from identity.token_rollup_state s, generate_series(1, ${rawHours}) x
    on conflict do nothing returning bucket as h`
      : [];
  const dirtiedList = `{${dirtied.map((d) => d.h.toISOString()).join(',')}}`;
  if (dirtied.length) {
    await sql`insert into identity.token_rollup_dirty (grain, bucket)
              select distinct 'd', date_trunc('day', h, 'UTC') from unnest(${dirtiedList}::timestamptz[]) h, identity.token_rollup_state s
               where date_trunc('day', h, 'UTC') + interval '24 hours' <= s.watermark on conflict do nothing`;
  }
  const [{ raw }] = await sql`
    select count(*)::int as raw from identity.audit_logs l, identity.token_rollup_state s
     where l.created_at >= s.watermark or date_trunc('hour', l.created_at, 'UTC') in (select bucket from identity.token_rollup_dirty where grain = 'h')`;
  console.log(
    `raw remainder read by every call: ${raw} events (the unsealed hour${dirtied.length ? `, and ${dirtied.length} sealed hour(s) marked dirty by --raw-hours` : ''})`,
  );
  results.rawRemainder = raw;

  const now = () => new Date();
  const day = 86_400_000;
  const scenarios: { name: string; range: number; clientId?: string; userId?: string; tz?: string; audience?: string }[] = [
    { name: '24h', range: day },
    { name: '7d', range: 7 * day },
    { name: '7d, client (median)', range: 7 * day, clientId: median },
    { name: '7d, client (busiest)', range: 7 * day, clientId: busiest },
    { name: '90d', range: 90 * day },
    { name: '90d, client (median)', range: 90 * day, clientId: median },
    { name: '90d, client (busiest)', range: 90 * day, clientId: busiest },
    { name: '90d, Asia/Kolkata (:30 zone)', range: 90 * day, tz: 'Asia/Kolkata' },
    { name: '7d, user (typical)', range: 7 * day, userId: typicalUser },
    { name: '90d, user (typical)', range: 90 * day, userId: typicalUser },
    { name: '90d, user (busiest)', range: 90 * day, userId: heavyUser },
    // the "by API" filter (generate.ts gives issued tokens audiences); '' is the provider's default audience
    ...(busiestApi
      ? [
          { name: '7d, API (busiest)', range: 7 * day, audience: busiestApi },
          { name: '90d, API (busiest)', range: 90 * day, audience: busiestApi },
          { name: '90d, API (quietest)', range: 90 * day, audience: quietestApi },
          { name: '90d, default audience', range: 90 * day, audience: '' },
          { name: '90d, API + client (busiest)', range: 90 * day, audience: busiestApi, clientId: busiest },
        ]
      : []),
  ];
  const iterations = Number(values.iterations);
  const rows: { scenario: string; n: number; p50: number; p95: number; story_p50?: number; story_p95?: number }[] = [];
  const maxMs = Number(values['max-seconds']) * 1000;
  const only = values.scenarios ? values.scenarios.split(',').map((x) => x.trim()) : null;
  for (const s of scenarios.filter((x) => !only || only.includes(x.name))) {
    const times: number[] = [];
    const began = performance.now();
    for (let i = -Number(values.warmup); i < iterations; i++) {
      if (times.length >= 3 && performance.now() - began > maxMs) break;
      const end = now();
      const start = new Date(end.getTime() - s.range);
      const t0 = performance.now();
      // what the route does: the dashboard and the first activity page, concurrently
      await Promise.all([
        analytics.dashboard({ start, end, clientId: s.clientId, userId: s.userId, audience: s.audience, timeZone: s.tz ?? 'UTC', top: 10 }),
        analytics.activity({ start, end, clientId: s.clientId, userId: s.userId, audience: s.audience, limit: 50 }),
      ]);
      if (i >= 0) times.push(performance.now() - t0); // after the warm-up calls
    }
    const row: (typeof rows)[number] = { scenario: s.name, n: times.length, p50: pct(times, 50), p95: pct(times, 95) };
    if (!s.userId && !s.tz && s.audience === undefined && s.name !== '7d, client (busiest)' && s.name !== '90d, client (busiest)') {
      const story: number[] = [];
      for (let i = 0; i < Number(values['story-iterations']); i++) {
        const end = now();
        const start = new Date(end.getTime() - s.range);
        const t0 = performance.now();
        await sql`select * from bench.get_token_stats_story(${start}, ${end}, ${s.clientId ?? null})`;
        story.push(performance.now() - t0);
      }
      row.story_p50 = pct(story, 50);
      row.story_p95 = pct(story, 95);
    }
    rows.push(row);
    console.log(
      `${s.name.padEnd(32)} dashboard p50 ${fmt(row.p50).padStart(9)} p95 ${fmt(row.p95).padStart(9)}${times.length < iterations ? ` (n=${times.length})` : ''}` +
        (row.story_p50 !== undefined ? `   story get_token_stats p50 ${fmt(row.story_p50).padStart(9)} p95 ${fmt(row.story_p95!).padStart(9)}` : ''),
    );
  }
  // the new get_token_stats (same signature as the story's)
  const stats: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const end = now();
    const t0 = performance.now();
    await analytics.stats(new Date(end.getTime() - 90 * day), end);
    stats.push(performance.now() - t0);
  }
  console.log(`identity.get_token_stats 90d:           p50 ${fmt(pct(stats, 50))} p95 ${fmt(pct(stats, 95))}`);
  // the hours marked dirty above, sealed again (and their day rebuilt)
  for (const { h } of dirtied) await sql`select identity.token_rollup_seal_hour(${h})`;
  if (dirtied.length) {
    await sql`delete from identity.token_rollup_dirty where grain = 'h' and bucket = any(${dirtiedList}::timestamptz[])`;
    await sql`select identity.token_rollup_close_day(bucket) from identity.token_rollup_dirty where grain = 'd'`;
  }
  results.latency = { events: n, rows, get_token_stats_90d: { p50: pct(stats, 50), p95: pct(stats, 95) } };
  await db.close();
}

/** Events as the app writes them (same actions, columns and details), `count` of them spread over [from, from + 1 h). */
function hourOfEvents(from: number, count: number, seed: number) {
  const actions = [
    ['token.issued.authorization_code', 22],
    ['token.refreshed', 18],
    ['token.issued.refresh_token', 18],
    ['token.issued.client_credentials', 8],
    ['token.userinfo_accessed', 15],
    ['token.introspected', 3],
    ['token.revoked', 2],
    ['token.validation_failed', 1.5],
    ['client.auth_failed', 1],
    ['token.code_invalid', 0.8],
    ['token.pkce_failed', 0.5],
    ['token.expired', 0.4],
    ['token.refresh_reused', 0.3],
    ['token.code_replayed', 0.2],
    ['auth.login_succeeded', 5.3],
    ['auth.login_failed', 4],
  ] as const;
  const total = actions.reduce((a, [, w]) => a + w, 0);
  let s = seed;
  const r = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  const events = [];
  for (let i = 0; i < count; i++) {
    const at = new Date(from + Math.floor((i / count) * 3_600_000));
    let x = r() * total;
    const action = actions.find(([, w]) => (x -= w) < 0)?.[0] ?? 'token.userinfo_accessed';
    const client = `client-${String(Math.min(50, Math.floor(50 ** r()))).padStart(2, '0')}`;
    const user = `00000000-0000-4000-8000-${String(Math.min(100_000, Math.floor(((100_000 ** 0.2 - 1) * r() + 1) ** 5))).padStart(12, '0')}`;
    const issued = action.startsWith('token.issued.');
    events.push({
      event_id: randomUUID(),
      created_at: at,
      action,
      user_id: action === 'token.issued.client_credentials' || action === 'client.auth_failed' ? null : user,
      client_id: client,
      grant_type: issued ? action.slice(13) : null,
      ip_address: '10.1.2.3',
      user_agent: 'bench/1.0',
      request_id: randomUUID(),
      resource_type: 'oauth_token',
      resource_id: client,
      // as generate.ts: per client one of five audience sets, a fifth of the issued tokens the default audience
      audience: issued && r() >= 0.2 ? AUDIENCE_SETS[Number(client.slice(7)) % 5] : null,
      details: issued
        ? {
            scopes: ['openid'],
            jti: randomUUID(),
            family_id: randomUUID(),
            issued_at: at.toISOString(),
            expires_at: new Date(+at + 900_000).toISOString(),
            refresh_token_expires_at: r() < 0.8 ? new Date(+at + 30 * 86_400_000).toISOString() : null,
          }
        : action === 'token.refreshed'
          ? { family_id: randomUUID(), previous_issued_at: new Date(+at - 3_600_000).toISOString() }
          : action === 'token.revoked'
            ? { token_type: 'access_token', jti: randomUUID() }
            : action.includes('failed') || action.includes('invalid') || action.includes('expired') || action.includes('reused') || action.includes('replayed')
              ? { reason: 'invalid_grant' }
              : {},
    });
  }
  return events;
}

const AUDIENCE_SETS = [
  'https://api.bench.example/orders',
  'https://api.bench.example/payments',
  'https://api.bench.example/catalog',
  'https://api.bench.example/orders https://api.bench.example/payments',
  'https://api.bench.example/reports',
];

/** The audit writer's statement (packages/database-identity/src/audit/writer.ts), verbatim. */
const WRITER_INSERT = `insert into identity.audit_logs (event_id, created_at, action, user_id, client_id, grant_type, ip_address, user_agent, request_id, resource_type, resource_id, audience, details)
       select event_id, created_at, action, user_id, client_id, grant_type, ip_address, user_agent, request_id, resource_type, resource_id, audience, coalesce(details, '{}')
         from jsonb_to_recordset($1::text::jsonb) as e(event_id uuid, created_at timestamptz, action text, user_id uuid, client_id text, grant_type text,
              ip_address inet, user_agent text, request_id text, resource_type text, resource_id text, audience text, details jsonb)
       on conflict do nothing`;

/** Events per hour of the loaded data (the write runs simulate traffic at this density). */
async function density() {
  const [{ n }] = await sql`select count(*)::bigint as n from identity.audit_logs`;
  const [{ span }] = await sql`select extract(epoch from max(created_at) - min(created_at))::float8 / 3600 as span from identity.audit_logs`;
  return Math.round(Number(n) / Number(span));
}

async function writes() {
  const hours = Number(values.hours);
  const perHour = await density();
  const batch = 500;
  const mode = values.sealer === 'trigger' ? 'trigger' : 'background';
  console.log(
    `\nwrites: ${hours} simulated hours at ${perHour} events/hour (the data's density), batches of ${batch}, writer's statement;` +
      ` sealing ${mode === 'background' ? 'by a background sealer on a second connection (identity.token_rollup_seal_background)' : "by the trigger, on the writer's path"}`,
  );
  const one = postgres(URL_, { max: 1, prepare: false, onnotice: () => {} });
  const sealer = postgres(URL_, { max: 1, prepare: false, onnotice: () => {} });
  // the sealing state is put back as found at the end (hours the load left unsealed stay unsealed)
  const [state] = await one.unsafe<{ watermark: Date | null; seen_at: Date | null; sealer_timeout: string }[]>(
    `select s.watermark, h.seen_at, s.sealer_timeout::text from identity.token_rollup_state s, identity.token_rollup_sealer h`,
  );
  // Simulated time runs about 15,000 times faster than real time here (an hour of traffic in a quarter of a
  // second), while a seal takes as long as ever: the heartbeat timeout is stretched to three simulated hours so that
  // a sealer that runs once a simulated hour (below) and is busy sealing for minutes of simulated time is not
  // taken for a stopped one. In production the sealer runs every minute against a 5-minute timeout.
  await one.unsafe(`update identity.token_rollup_state set sealer_timeout = interval '3 hours'`);
  // runs alternate trigger off / on, each on its own empty stretch of future days
  const base = Math.ceil((Date.now() + 3 * 86_400_000) / 86_400_000) * 86_400_000;
  const runs: { trigger: boolean; ms: number; events: number; sealMs: number[]; sealerMs: number; sealerHours: number }[] = [];
  const rounds = Number(values.rounds);
  let slot = 0;
  for (let round = 0; round < rounds; round++) {
    for (const trigger of [false, true]) {
      const from = base + slot++ * Math.ceil(hours / 24 + 1) * 86_400_000;
      await one.unsafe(`alter table identity.audit_logs ${trigger ? 'enable' : 'disable'} trigger audit_logs_token_rollup`);
      // rollups already sealed up to the start of the stretch (as if the provider had been running)
      await one.unsafe(`update identity.token_rollup_state set watermark = $1`, [new Date(from)]);
      await one.unsafe(`update identity.token_rollup_sealer set seen_at = null`);
      await one.unsafe(`select identity.audit_ensure_partitions($1)`, [new Date(from)]);
      // The background sealer, as the provider's maintenance loop, its clock following the newest event written.
      // In production it runs every minute, and its idle rounds (about a millisecond each) are nothing against a
      // real minute of traffic; here a simulated minute lasts a few milliseconds, so idle rounds at that pace
      // would weigh 15,000 times more than they do. It therefore runs once at the start (its heartbeat) and then
      // as soon as an hour has become sealable (its end plus seal_grace), which is when a minutely round would
      // find work.
      let newest = from;
      let stop = false;
      let sealerMs = 0;
      let sealerHours = 0;
      const sealRound = async (clock: number) => {
        await sealer.unsafe(`select set_config('identity.analytics_clock', $1, false)`, [new Date(clock).toISOString()]);
        // as analytics.sealInBackground() does it: an hour per statement until there is none left
        const t0 = performance.now();
        for (;;) {
          const [{ n }] = await sealer.unsafe<{ n: number }[]>(`select identity.token_rollup_seal_background(1) as n`);
          if (Number(n) === 0) break;
          sealerHours += Number(n);
        }
        sealerMs += performance.now() - t0;
      };
      const grace = 120_000;
      let background: Promise<void> | null = null;
      if (trigger && mode === 'background') {
        await sealRound(from); // the heartbeat, before the first write
        background = (async () => {
          let due = from + 3_600_000 + grace;
          while (!stop) {
            if (newest >= due) {
              const clock = newest;
              await sealRound(clock);
              due = Math.floor((clock - grace) / 3_600_000) * 3_600_000 + 3_600_000 + grace;
            } else {
              await new Promise((resolve) => setTimeout(resolve, 1));
            }
          }
        })();
      }
      let ms = 0;
      let events = 0;
      const batchTimes: number[] = [];
      for (let h = 0; h < hours; h++) {
        const evs = hourOfEvents(from + h * 3_600_000, perHour, h + 1 + round * 1000);
        for (let i = 0; i < evs.length; i += batch) {
          const chunk = evs.slice(i, i + batch);
          // the sealing clock follows the traffic: "now" is the newest event of the batch
          await one.unsafe(`select set_config('identity.analytics_clock', $1, false)`, [chunk[chunk.length - 1].created_at.toISOString()]);
          const body = JSON.stringify(chunk);
          const t0 = performance.now();
          await one.unsafe(WRITER_INSERT, [body]);
          const dt = performance.now() - t0;
          batchTimes.push(dt);
          ms += dt;
          events += chunk.length;
          newest = +chunk[chunk.length - 1].created_at;
        }
      }
      stop = true;
      await background;
      const sorted = [...batchTimes].sort((a, b) => a - b);
      const median = sorted[Math.floor(sorted.length / 2)];
      // batches that sealed an hour or built a day are the slow ones
      const sealMs = batchTimes.filter((t) => t > median * 1.5).map((t) => t - median);
      runs.push({ trigger, ms, events, sealMs, sealerMs, sealerHours });
      console.log(
        `  trigger ${trigger ? 'on ' : 'off'}: ${events} events in ${(ms / 1000).toFixed(1)} s = ${Math.round((events / ms) * 1000)} events/s` +
          ` (median batch ${median.toFixed(1)} ms${trigger ? `, ${sealMs.length} slow batches, +${fmt(sealMs.reduce((a, b) => a + b, 0) / Math.max(1, sealMs.length))} each` : ''})` +
          (background ? `; background sealer: ${sealerHours} hours sealed, ${fmt(sealerMs / Math.max(1, sealerHours))} per hour sealed` : ''),
      );
      // clean up: the stretch's raw rows and rollups
      await one.unsafe(`alter table identity.audit_logs disable trigger audit_logs_token_rollup`);
      await one.unsafe(`delete from identity.audit_logs where created_at >= $1`, [new Date(from)]);
      await one.unsafe(`delete from identity.token_rollup where bucket >= $1`, [new Date(from - 86_400_000)]);
      await one.unsafe(`delete from identity.token_rollup_users where bucket >= $1`, [new Date(from - 86_400_000)]);
      await one.unsafe(`delete from identity.token_rollup_users where grain = 'w' and bucket + interval '7 days' > $1`, [new Date(from)]);
      await one.unsafe(`delete from identity.token_rollup_dirty where bucket >= $1`, [new Date(from - 86_400_000)]);
    }
  }
  await one.unsafe(`select set_config('identity.analytics_clock', '', false)`);
  // (setting it to "now" instead would declare the hours between the old watermark and now sealed without
  // sealing them: their rollups would be missing)
  await one.unsafe(`update identity.token_rollup_state set watermark = $1, sealer_timeout = $2::interval`, [state.watermark, state.sealer_timeout]);
  await one.unsafe(`update identity.token_rollup_sealer set seen_at = $1`, [state.seen_at]);
  await one.unsafe(`alter table identity.audit_logs enable trigger audit_logs_token_rollup`);
  // the deleted rows of the future stretches: vacuumed, or the next latency run finds them in the way
  await one.unsafe(`vacuum analyze identity.audit_logs`);
  await one.unsafe(`vacuum analyze identity.token_rollup`);
  await one.unsafe(`vacuum analyze identity.token_rollup_users`);
  await one.end();
  await sealer.end();
  const sum = (t: boolean, f: (r: (typeof runs)[number]) => number) => runs.filter((r) => r.trigger === t).reduce((a, r) => a + f(r), 0);
  const off = (sum(false, (r) => r.events) / sum(false, (r) => r.ms)) * 1000;
  const on = (sum(true, (r) => r.events) / sum(true, (r) => r.ms)) * 1000;
  const sealerShare = (sum(true, (r) => r.sealerMs) / sum(true, (r) => r.ms)) * 100;
  console.log(
    `  => ${Math.round(off)} events/s without the trigger, ${Math.round(on)} with: upkeep costs ${((1 - on / off) * 100).toFixed(1)}% of write throughput` +
      (mode === 'background' ? `; the background sealer's sealing rounds took ${sealerShare.toFixed(1)}% of the writer's time, on its own connection` : ''),
  );
  results.writes = {
    perHour,
    batch,
    hours,
    mode,
    runs: runs.map(({ sealMs, ...r }) => ({ ...r, slowBatches: sealMs.length })),
    off,
    on,
    overheadPct: (1 - on / off) * 100,
    sealerBusyPctOfWriter: mode === 'background' ? sealerShare : null,
  };
}

/**
 * Sealing alone, per hour: `hours` simulated hours (and the hour before them, the revoked tokens' look-back)
 * inserted in one transaction with the trigger off, then each hour sealed once and timed; rolled back. Like the
 * write runs, the hours land in a future month's partition whose statistics are stale (as at the start of a
 * month). The first seal of a session also plans the statements; it is reported apart.
 */
async function seal() {
  const hours = Number(values.hours);
  const perHour = await density();
  console.log(`\nseal: ${hours} simulated hours at ${perHour} events/hour, each sealed once (identity.token_rollup_seal_hour)`);
  const one = postgres(URL_, { max: 1, prepare: false, onnotice: () => {} });
  const from = Math.ceil((Date.now() + 3 * 86_400_000) / 86_400_000) * 86_400_000;
  const times: number[] = [];
  const rollback = new Error('rollback');
  try {
    await one.begin(async (tx) => {
      await tx.unsafe(`alter table identity.audit_logs disable trigger audit_logs_token_rollup`);
      await tx.unsafe(`select identity.audit_ensure_partitions($1)`, [new Date(from)]);
      for (let h = -1; h < hours; h++) {
        const evs = hourOfEvents(from + h * 3_600_000, perHour, h + 2);
        for (let i = 0; i < evs.length; i += 500) await tx.unsafe(WRITER_INSERT, [JSON.stringify(evs.slice(i, i + 500))]);
      }
      for (let h = 0; h < hours; h++) {
        const t0 = performance.now();
        await tx.unsafe(`select identity.token_rollup_seal_hour($1)`, [new Date(from + h * 3_600_000)]);
        times.push(performance.now() - t0);
      }
      throw rollback;
    });
  } catch (e) {
    if (e !== rollback) throw e;
  }
  await one.end();
  const rest = times.slice(1);
  console.log(`  first hour ${fmt(times[0])}; the other ${rest.length}: p25 ${fmt(pct(rest, 25))}, median ${fmt(pct(rest, 50))}, p75 ${fmt(pct(rest, 75))}`);
  results.seal = { perHour, hours, firstMs: times[0], p25: pct(rest, 25), p50: pct(rest, 50), p75: pct(rest, 75) };
}

if (!values.only || values.only === 'latency') await latency();
if (!values.only || values.only === 'writes') await writes();
if (values.only === 'seal') await seal();
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 2));
await sql.end();
