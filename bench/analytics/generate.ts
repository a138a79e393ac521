/**
 * Loads synthetic token events into a local Postgres for the analytics benchmark: N events over DAYS days
 * ending now, CLIENTS clients (Zipf s=1) and USERS users (Zipf s=0.8), with a daily cycle, generated
 * server-side (generate_series) in time order, one day per statement. Issued-token events carry an audience
 * (the "by API" dimension): each client one of five audience sets (four APIs, one pair of them), a fifth of its
 * tokens the provider's default audience. The rollup trigger is off during the
 * load; the rollups are then rebuilt from the raw rows (that time is reported too).
 *
 *   npx tsx bench/analytics/generate.ts --events 10000000
 *
 * The database (BENCH_ANALYTICS_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/idp_bench_analytics)
 * is dropped and re-created: its name must start with idp_bench.
 */
import postgres from 'postgres';
import { openDatabase, migrate, findMigrationsDir } from '../../packages/database-identity/src';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '1000000' },
    days: { type: 'string', default: '90' },
    clients: { type: 'string', default: '50' },
    users: { type: 'string', default: '100000' },
    'keep-db': { type: 'boolean', default: false },
    'no-rebuild': { type: 'boolean', default: false },
  },
});
const EVENTS = Number(values.events);
const DAYS = Number(values.days);
const CLIENTS = Number(values.clients);
const USERS = Number(values.users);
export const BENCH_URL = process.env.BENCH_ANALYTICS_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/idp_bench_analytics';

const url = new URL(BENCH_URL);
const dbName = url.pathname.slice(1);
if (!/^idp_bench/.test(dbName)) throw new Error(`refusing to drop ${dbName}: the bench database name must start with idp_bench`);

const t0 = Date.now();
const log = (msg: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);

if (!values['keep-db']) {
  const adminUrl = new URL(BENCH_URL);
  adminUrl.pathname = '/postgres';
  const admin = postgres(adminUrl.toString(), { max: 1, onnotice: () => {} });
  await admin.unsafe(`drop database if exists ${dbName} with (force)`);
  await admin.unsafe(`create database ${dbName}`);
  await admin.end();
}
const db = await openDatabase({ databaseUrl: BENCH_URL, statementTimeoutMs: 0 });
await migrate(db, findMigrationsDir());
log('migrated');

const sql = postgres(BENCH_URL, { max: 1, onnotice: () => {} });
await sql.unsafe(`select identity.audit_ensure_partitions(now() - interval '${DAYS + 31} days')`);
await sql.unsafe('alter table identity.audit_logs disable trigger audit_logs_token_rollup');

// One day of events, in time order. r picks the action; the user and client ranks follow Zipf laws.
const perDay = Math.round(EVENTS / DAYS);
const dayInsert = (dayIndex: number, count: number) => `
  with g as (
    select i, random() as r, random() as ru, random() as rc, random() as rx, random() as ra,
           -- daily cycle: a warped position in the day (busier in the afternoon UTC)
           now() - interval '${DAYS} days' + interval '${dayIndex} days'
             + make_interval(secs => 86400 * (f - 0.12 * sin(2 * pi() * f) / (2 * pi()))) as t
      from (select i, random() as f from generate_series(1, ${count}) i) s
  ),
  e as (
    select g.*,
           case when g.r < 0.22 then 'token.issued.authorization_code'
                when g.r < 0.40 then 'token.refreshed'
                when g.r < 0.58 then 'token.issued.refresh_token'
                when g.r < 0.66 then 'token.issued.client_credentials'
                when g.r < 0.81 then 'token.userinfo_accessed'
                when g.r < 0.84 then 'token.introspected'
                when g.r < 0.86 then 'token.revoked'
                when g.r < 0.875 then 'token.validation_failed'
                when g.r < 0.885 then 'client.auth_failed'
                when g.r < 0.893 then 'token.code_invalid'
                when g.r < 0.898 then 'token.pkce_failed'
                when g.r < 0.902 then 'token.expired'
                when g.r < 0.905 then 'token.refresh_reused'
                when g.r < 0.907 then 'token.code_replayed'
                when g.r < 0.96 then 'auth.login_succeeded'
                else 'auth.login_failed' end as action,
           'client-' || lpad(floor(power(${CLIENTS}::float8, g.rc))::int::text, 2, '0') as client_id,
           md5('user-' || least(${USERS}, floor(power((power(${USERS}::float8, 0.2) - 1) * g.ru + 1, 5))::int))::uuid as user_id,
           floor(power(${CLIENTS}::float8, g.rc))::int as client_rank
      from g
  )
  insert into identity.audit_logs (created_at, action, user_id, client_id, grant_type, resource_type, resource_id, ip_address, user_agent, request_id, audience, details)
  select e.t, e.action,
         case when e.action in ('token.issued.client_credentials', 'client.auth_failed') then null
              when e.action = 'token.validation_failed' and e.rx < 0.5 then null else e.user_id end,
         e.client_id,
         case when e.action like 'token.issued.%' then substr(e.action, 14)
              when e.action in ('token.refreshed', 'token.refresh_reused') then 'refresh_token'
              when e.action in ('token.code_invalid', 'token.pkce_failed', 'token.code_replayed') then 'authorization_code' end,
         'oauth_token', e.client_id,
         ('10.' || (e.i % 200) || '.' || (e.i % 250) || '.' || (e.i % 240))::inet, 'bench/1.0', md5(e.i::text || e.t::text),
         -- the API the token is for: per client one of five audience sets, a fifth of the tokens the default one
         case when e.action like 'token.issued.%' and e.ra >= 0.2 then (array[
           'https://api.bench.example/orders', 'https://api.bench.example/payments', 'https://api.bench.example/catalog',
           'https://api.bench.example/orders https://api.bench.example/payments', 'https://api.bench.example/reports'])[1 + e.client_rank % 5] end,
         case
           when e.action like 'token.issued.%' then jsonb_build_object(
             'client_id', e.client_id, 'grant_type', substr(e.action, 14), 'scopes', '["openid","profile"]'::jsonb,
             'jti', gen_random_uuid(), 'family_id', md5(e.user_id::text || e.client_id)::uuid,
             'issued_at', to_char(e.t at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
             'expires_at', to_char((e.t + interval '15 minutes') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
             'refresh_token_expires_at', case when e.action <> 'token.issued.client_credentials' and e.rx < 0.8
               then to_char((e.t + interval '30 days') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') end)
           when e.action = 'token.refreshed' then jsonb_build_object(
             'client_id', e.client_id, 'family_id', md5(e.user_id::text || e.client_id)::uuid,
             'previous_issued_at', to_char((e.t - make_interval(secs => 3600 * 24 * e.rx)) at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
           when e.action = 'token.revoked' then jsonb_build_object(
             'client_id', e.client_id, 'token_type', case when e.rx < 0.5 then 'access_token' else 'refresh_token' end,
             'jti', gen_random_uuid())
           when identity.token_is_failure(e.action) then jsonb_build_object(
             'client_id', e.client_id,
             'reason', case when e.action = 'client.auth_failed' then 'invalid_client'
                            when e.action = 'token.validation_failed' and e.rx < 0.3 then 'invalid_request'
                            when e.action = 'token.validation_failed' and e.rx < 0.4 then 'unsupported_grant_type'
                            when e.action = 'token.validation_failed' and e.rx < 0.5 then 'invalid_scope'
                            when e.action = 'token.expired' then 'invalid_token' else 'invalid_grant' end)
           else jsonb_build_object('client_id', e.client_id)
         end
    from e
   order by e.t`;

for (let day = 0; day < DAYS; day++) {
  const count = day === DAYS - 1 ? EVENTS - perDay * (DAYS - 1) : perDay;
  // the last day ends now: only its elapsed part is generated (proportionally fewer events)
  await sql.unsafe(dayInsert(day, count));
  if (day % 10 === 9 || day === DAYS - 1) log(`loaded ${day + 1}/${DAYS} days`);
}
const [{ n }] = await sql.unsafe<{ n: string }[]>('select count(*)::text as n from identity.audit_logs');
log(`${n} rows in identity.audit_logs`);
await sql.unsafe('vacuum analyze identity.audit_logs');
log('vacuum analyze done');

if (!values['no-rebuild']) {
  const rebuildStart = Date.now();
  await sql.unsafe('select identity.token_rollup_rebuild()');
  log(`rollups rebuilt in ${((Date.now() - rebuildStart) / 1000).toFixed(1)} s`);
}
await sql.unsafe('alter table identity.audit_logs enable trigger audit_logs_token_rollup');
await sql.unsafe('vacuum analyze identity.token_rollup, identity.token_rollup_users, identity.token_user_ordinals');

// the story's get_token_stats, verbatim but for the schema, for the side-by-side comparison
await sql.unsafe(`
  create schema if not exists bench;
  create or replace function bench.get_token_stats_story(p_start_date timestamptz, p_end_date timestamptz, p_client_id text default null)
  returns table (total_issued bigint, total_refreshed bigint, total_failed bigint, unique_users bigint, unique_clients bigint) as $$
  begin
    return query
    select
      count(*) filter (where action like 'token.issued.%') as total_issued,
      count(*) filter (where action = 'token.refreshed') as total_refreshed,
      count(*) filter (where action like 'token.%failed%') as total_failed,
      count(distinct user_id) as unique_users,
      count(distinct details->>'client_id') as unique_clients
    from identity.audit_logs
    where action like 'token.%'
      and created_at >= p_start_date
      and created_at <= p_end_date
      and (p_client_id is null or details->>'client_id' = p_client_id);
  end;
  $$ language plpgsql;`);
const sizes = await sql.unsafe<{ rel: string; size: string }[]>(`
  select 'audit_logs (all partitions, with indexes)' as rel, pg_size_pretty(sum(pg_total_relation_size(c.oid))) as size
    from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'identity.audit_logs'::regclass
  union all
  select c.relname, pg_size_pretty(pg_total_relation_size(c.oid)) from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where n.nspname = 'identity' and c.relname in ('token_rollup', 'token_rollup_users', 'token_user_ordinals')`);
for (const s of sizes) log(`${s.rel}: ${s.size}`);
await sql.end();
await db.close();
