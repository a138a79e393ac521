-- Token analytics, exact and fast at ten million events (issue 5).
--
-- 1. identity.audit_logs becomes a monthly range-partitioned table (by created_at) with a default partition,
--    so retention drops whole months. The dedup key is now (event_id, created_at): a unique index on a
--    partitioned table must contain the partition key. The writer's conflict target is (event_id, created_at).
-- 2. Rollups are SEALED per UTC hour: when an hour is closed, one pass over its raw rows writes
--      - token_rollup:       counts per quarter hour, hour and (from 24 hours) day, for all clients and per client,
--                            failures by reason, actions by grant (for the story's view), token lifetimes, and
--                            per-user issued counts (top-k list + complete list) at hour and day grain;
--      - token_rollup_users: the exact set of users per hour and day, as bitmaps of dense user ordinals
--                            (65536 bits per chunk), for all clients and per client.
--    Hours not sealed yet (the current one, or one that received a late event) are read raw, so every answer
--    is exact at all times. The statement-level AFTER INSERT trigger (transition table `inserted`) costs one
--    call per batch: it marks hours that receive late events dirty, and seals closed hours as time passes.
-- 3. Queries decompose a range into whole sealed days, whole sealed hours, whole quarters of sealed hours and
--    raw remainders (identity.token_pieces); unique users OR the bitmaps; top users run a threshold (NRA)
--    pass over the per-block top-k lists and fall back to the complete lists when that cannot decide.
--
-- Concurrency (READ COMMITTED, the default): inserters hold shared advisory locks on the hours and days they
-- write to; sealing an hour or building a day takes the exclusive lock with a try-lock and skips when busy.

-- ---------------------------------------------------------------------------------------------------------
-- Partitioned audit_logs
-- ---------------------------------------------------------------------------------------------------------

drop view if exists identity.token_analytics;

alter table identity.audit_logs rename to audit_logs_unpartitioned;
do $$
declare r record;
begin
  for r in select c.relname from pg_index i join pg_class c on c.oid = i.indexrelid
            where i.indrelid = 'identity.audit_logs_unpartitioned'::regclass
  loop
    execute format('alter index identity.%I rename to %I', r.relname, 'old_' || r.relname);
  end loop;
end
$$;

create sequence identity.audit_log_id_seq as bigint;

create table identity.audit_logs (like identity.audit_logs_unpartitioned including defaults including constraints including comments)
  partition by range (created_at);
alter table identity.audit_logs alter column id set default nextval('identity.audit_log_id_seq');
-- byte-order comparisons for the identifiers the analytics group and sort by (and that the indexes order):
-- the database's linguistic collation buys nothing for client ids and action names, and costs on every row
alter table identity.audit_logs alter column action type text collate "C", alter column client_id type text collate "C",
  alter column grant_type type text collate "C";
alter sequence identity.audit_log_id_seq owned by identity.audit_logs.id;
alter table identity.audit_logs add constraint audit_logs_pkey primary key (created_at, id);
-- the writer's dedup key: insert ... on conflict (event_id, created_at) do nothing
create unique index audit_logs_event_id_key on identity.audit_logs (event_id, created_at);
-- recent activity filtered by client or by user, newest first (keyset on (created_at, id))
create index audit_logs_client_id_idx on identity.audit_logs (client_id, created_at desc, id desc);
create index audit_logs_user_id_idx on identity.audit_logs (user_id, created_at desc, id desc) where user_id is not null;
alter table identity.audit_logs enable row level security;

create table identity.audit_logs_default partition of identity.audit_logs default;
alter table identity.audit_logs_default enable row level security;

-- Settings and the sealing state, one row.
create table identity.token_rollup_state (
  id boolean primary key default true check (id),
  -- every UTC hour before the watermark is sealed, except the ones listed in token_rollup_dirty
  watermark timestamptz,
  -- an hour is sealed once it ended this long ago (events are batched for a fraction of a second)
  seal_grace interval not null default '2 minutes',
  -- most hours one trigger call seals (the rest: the next call, or identity.token_rollup_maintain); 0: the
  -- trigger only marks late events, and sealing is left to identity.token_rollup_maintain (analytics.maintain())
  seal_hours_per_call integer not null default 3,
  -- raw events older than this are dropped by identity.audit_apply_retention (whole months); rollups stay
  raw_retention interval not null default '400 days',
  -- monthly partitions created ahead of time by identity.audit_ensure_partitions
  partitions_ahead integer not null default 3,
  -- how far back (before its hour) a revoked access token's issuing event is looked up by jti: at least the
  -- access token lifetime (ACCESS_TOKEN_TTL_SECONDS, 900 by default); longer costs more per sealed hour
  revocation_lookback interval not null default '15 minutes',
  -- length of the per-block top-user lists
  top_k integer not null default 64
);
insert into identity.token_rollup_state default values;

-- Hours ('h') and days ('d') whose rollups are stale: read raw (hours) or from hours (days) until resealed.
create table identity.token_rollup_dirty (
  grain text not null check (grain in ('h', 'd')),
  bucket timestamptz not null,
  primary key (grain, bucket)
);

-- Dense user ordinals, the bit positions in the user bitmaps.
create sequence identity.token_user_ordinal_seq as integer minvalue 0 start 0;
create table identity.token_user_ordinals (
  user_id uuid primary key,
  ordinal integer not null default nextval('identity.token_user_ordinal_seq') unique
);

-- Counts per block. all_clients: the row covers every client; otherwise client_id (null: events without one).
create table identity.token_rollup (
  grain text not null check (grain in ('q', 'h', 'd')),
  bucket timestamptz not null,
  all_clients boolean not null,
  client_id text collate "C",
  events integer not null default 0,
  issued integer not null default 0,
  issued_authorization_code integer not null default 0,
  issued_refresh_token integer not null default 0,
  issued_client_credentials integer not null default 0,
  refresh_tokens_issued integer not null default 0,
  refreshed integer not null default 0,
  failed integer not null default 0,
  userinfo integer not null default 0,
  revoked integer not null default 0,
  introspected integer not null default 0,
  -- issued lifetime (details expires_at - issued_at) of issued tokens, microseconds
  lifetime_us bigint not null default 0,
  lifetime_n integer not null default 0,
  -- actual lifetime of tokens that ended here (rotated or revoked) where the start is known, microseconds
  ended_us bigint not null default 0,
  ended_n integer not null default 0,
  -- failed attempts by reason: {"invalid_grant": 3, ...}
  failures jsonb,
  -- h/d rows per client: [[action, grant_type, count], ...] for the story's token_analytics view
  actions jsonb,
  -- h/d rows: the users (ordinals) and the tokens issued to each, packed as ordinal << 32 | count:
  -- top_list: the top_k users by count (count > 0), most first; top_tail: the largest count not in it;
  -- all_list: every user with a token event (count may be 0), by ordinal (binary search)
  top_list bigint[],
  top_tail integer,
  all_list bigint[]
);
create unique index token_rollup_key on identity.token_rollup (grain, bucket, all_clients, client_id) nulls not distinct;
create index token_rollup_client_idx on identity.token_rollup (client_id, grain, bucket) where not all_clients;

-- Users seen per block (any token event), one bitmap per 65536 ordinals: hours for all clients, days for all
-- clients and per client (a client's hours have token_rollup.all_list instead: few users, cheaper to build).
create table identity.token_rollup_users (
  grain text not null check (grain in ('h', 'd')),
  bucket timestamptz not null,
  all_clients boolean not null,
  client_id text collate "C",
  chunk integer not null,
  members bit varying not null
);
create unique index token_rollup_users_key on identity.token_rollup_users (grain, bucket, all_clients, client_id, chunk) nulls not distinct;
create index token_rollup_users_client_idx on identity.token_rollup_users (client_id, grain, bucket) where not all_clients;

alter table identity.token_rollup_state enable row level security;
alter table identity.token_rollup_dirty enable row level security;
alter table identity.token_user_ordinals enable row level security;
alter table identity.token_rollup enable row level security;
alter table identity.token_rollup_users enable row level security;

-- ---------------------------------------------------------------------------------------------------------
-- Helpers
-- ---------------------------------------------------------------------------------------------------------

-- A timestamp as the app writes it (Date.prototype.toISOString: 2026-01-31T23:59:59.999Z), else null. Cheap:
-- it is inlined, and raises when a string of that shape is not a valid timestamp (e.g. 2026-02-30T...):
-- token_cells then recomputes with token_ts_safe, which returns null for those instead.
create function identity.token_ts(v text) returns timestamptz
language sql stable parallel safe as $$
  select case when v like '____-__-__T__:__:__.___Z' then v::timestamptz end
$$;

create function identity.token_ts_safe(v text) returns timestamptz
language plpgsql stable parallel safe as $fn$
begin
  return identity.token_ts(v);
exception when others then
  return null;
end
$fn$;

create function identity.token_ts(v text, safe boolean) returns timestamptz
language sql stable parallel safe as $$
  select case when safe then identity.token_ts_safe(v) else identity.token_ts(v) end
$$;

create function identity.token_us(i interval) returns bigint
language sql immutable parallel safe as $$ select (extract(epoch from i) * 1000000)::bigint $$;

create function identity.token_hour_key(h timestamptz) returns integer
language sql immutable parallel safe as $$ select floor(extract(epoch from h) / 3600)::integer $$;

create function identity.token_day_key(d timestamptz) returns integer
language sql immutable parallel safe as $$ select floor(extract(epoch from d) / 86400)::integer $$;

-- "Now" for sealing: now(), unless a session sets identity.analytics_clock (the write benchmark replays
-- hours of traffic in minutes with it; never set by the app).
create function identity.token_clock() returns timestamptz
language sql stable parallel safe as $$
  select coalesce(nullif(current_setting('identity.analytics_clock', true), '')::timestamptz, now())
$$;

-- The failed token requests (one per failed request; details->>'reason' is the RFC error code).
create function identity.token_is_failure(action text) returns boolean
language sql immutable parallel safe as $$
  select action in ('token.validation_failed', 'token.pkce_failed', 'token.code_invalid', 'token.code_replayed',
                    'token.refresh_reused', 'token.expired', 'client.auth_failed')
$$;


-- ---------------------------------------------------------------------------------------------------------
-- Raw events: one classification, used to seal an hour and to read the unsealed remainders of a query
-- ---------------------------------------------------------------------------------------------------------

-- Token events (action like 'token.%', and client.auth_failed) in the given intervals, grouped per
-- (interval, quarter hour, client, action, grant, failure reason), with:
--   rt_issued  issued responses that carried a refresh token (details.refresh_token_expires_at set)
--   life_*     issued lifetime: details.expires_at - details.issued_at
--   ended_*    actual lifetime of a token that ended: token.refreshed at created_at - details.previous_issued_at;
--              token.revoked at created_at - details.issued_at, or, for an access token (details.jti), the
--              issued_at of the token.issued.* event with that jti within revocation_lookback before its hour.
-- With p_user_id the rows are found through the (user_id, created_at) index.
create type identity.token_cell as (
  idx integer, q timestamptz, client_id text, user_id uuid, action text, grant_type text, reason text,
  n bigint, rt_issued bigint, life_us bigint, life_n bigint, ended_us bigint, ended_n bigint
);

-- One pass over the rows (plus one over the revoked access tokens, looked up by jti). Cells carry user_id
-- only with p_by_user. The jti look-ups come as extra cells with n = 0: consumers sum the cells.
create function identity.token_cells_query(
  p_starts timestamptz[], p_ends timestamptz[], p_client_id text, p_user_id uuid, p_safe boolean, p_by_user boolean default false
)
returns setof identity.token_cell
language plpgsql stable set jit = off set work_mem = '64MB' as $fn$
begin
  return query
  with iv as (
    select u.i::integer as idx, u.a, u.b from unnest(p_starts, p_ends) with ordinality u(a, b, i) where u.a < u.b
  ),
  -- lateral, fenced: one index range scan per interval, whatever plan is cached
  ev as (
    select iv.idx, l.created_at, l.action, l.client_id, l.user_id, l.grant_type, l.details
      from iv cross join lateral (
        select * from (
          select l.created_at, l.action, l.client_id, l.user_id, l.grant_type, l.details
            from identity.audit_logs l
           where p_user_id is null and l.created_at >= iv.a and l.created_at < iv.b
             and (l.action like 'token.%' or l.action = 'client.auth_failed') and (p_client_id is null or l.client_id = p_client_id)
          union all
          select l.created_at, l.action, l.client_id, l.user_id, l.grant_type, l.details
            from identity.audit_logs l
           where p_user_id is not null and l.user_id = p_user_id and l.created_at >= iv.a and l.created_at < iv.b
             and (l.action like 'token.%' or l.action = 'client.auth_failed') and (p_client_id is null or l.client_id = p_client_id)
        ) x offset 0
      ) l
  ),
  -- per row first (each detail read and parsed once), then grouped on narrow rows
  cls as materialized (
    select e.idx, date_bin('15 minutes', e.created_at, timestamptz '2000-01-01 00:00:00+00') as q, e.client_id,
           case when p_by_user then e.user_id end as user_id, e.action, e.grant_type,
           case when identity.token_is_failure(e.action) then coalesce(e.details->>'reason', 'unknown') end as reason,
           e.action like 'token.issued.%' and e.details->>'refresh_token_expires_at' is not null as rt,
           case when e.action like 'token.issued.%'
                then identity.token_us(identity.token_ts(e.details->>'expires_at', p_safe) - identity.token_ts(e.details->>'issued_at', p_safe)) end as life,
           case when e.action = 'token.refreshed' then identity.token_us(e.created_at - identity.token_ts(e.details->>'previous_issued_at', p_safe))
                when e.action = 'token.revoked' then identity.token_us(e.created_at - identity.token_ts(e.details->>'issued_at', p_safe)) end as ended
      from ev e
  ),
  main as (
    select c.idx, c.q, c.client_id, c.user_id, c.action, c.grant_type, c.reason, count(*) as n, count(*) filter (where c.rt) as rt,
           sum(c.life) as life_us, count(c.life) as life_n, sum(c.ended) as ended_us, count(c.ended) as ended_n
      from cls c
     group by 1, 2, 3, 4, 5, 6, 7
  ),
  -- revoked access tokens that do not say when they were issued: the issuing event, by jti (a second,
  -- separate scan, so that the first one is not materialised)
  rv as (
    select iv.idx, l.created_at, l.client_id, case when p_by_user then l.user_id end as user_id, l.grant_type,
           l.details->>'jti' as jti, date_bin('1 hour', l.created_at, timestamptz '2000-01-01 00:00:00+00') as h
      from iv cross join lateral (
        select * from (
          select l.created_at, l.client_id, l.user_id, l.grant_type, l.details
            from identity.audit_logs l
           where p_user_id is null and l.created_at >= iv.a and l.created_at < iv.b and l.action = 'token.revoked'
             and (p_client_id is null or l.client_id = p_client_id)
          union all
          select l.created_at, l.client_id, l.user_id, l.grant_type, l.details
            from identity.audit_logs l
           where p_user_id is not null and l.user_id = p_user_id and l.created_at >= iv.a and l.created_at < iv.b
             and l.action = 'token.revoked' and (p_client_id is null or l.client_id = p_client_id)
        ) x offset 0
      ) l
     where l.details->>'token_type' = 'access_token' and l.details->>'jti' is not null
       and identity.token_ts(l.details->>'issued_at', p_safe) is null
  ),
  -- the issued tokens of each hour's look-back window, once per hour
  win as materialized (
    select hh.h, i.created_at, i.id, i.jti, i.issued_at
      from (select distinct rv.h from rv) hh
      cross join lateral (
        select i.created_at, i.id, i.details->>'jti' as jti, i.details->>'issued_at' as issued_at from identity.audit_logs i
         where i.created_at >= hh.h - (select s.revocation_lookback from identity.token_rollup_state s)
           and i.created_at < hh.h + interval '1 hour' and i.action like 'token.issued.%'
           and i.details->>'jti' = any(array(select rv.jti from rv where rv.h = hh.h))
        offset 0
      ) i
  ),
  hits as materialized (
    select w.jti, w.h,
           (array_agg(coalesce(identity.token_ts(w.issued_at, p_safe), w.created_at) order by w.created_at desc, w.id desc))[1] as issued_at
      from win w join (select distinct rv.jti, rv.h from rv) r on r.h = w.h and r.jti = w.jti
     group by w.jti, w.h
  )
  select m.idx, m.q, m.client_id, m.user_id, m.action, m.grant_type, m.reason, m.n, m.rt, coalesce(m.life_us, 0)::bigint, m.life_n,
         coalesce(m.ended_us, 0)::bigint, m.ended_n
    from main m
  union all
  select rv.idx, date_bin('15 minutes', rv.created_at, timestamptz '2000-01-01 00:00:00+00'), rv.client_id, rv.user_id, 'token.revoked',
         rv.grant_type, null, 0, 0, 0, 0, sum(identity.token_us(rv.created_at - h.issued_at))::bigint, count(*)
    from rv join hits h on h.jti = rv.jti and h.h = rv.h
   group by 1, 2, 3, 4, 5, 6;
end
$fn$;

-- The cells, computed with the cheap timestamp parser, or again with the safe one if a detail is malformed.
create function identity.token_cells(
  p_starts timestamptz[], p_ends timestamptz[], p_client_id text default null, p_user_id uuid default null
)
returns setof identity.token_cell
language plpgsql stable set jit = off set work_mem = '64MB' as $fn$
declare
  res identity.token_cell[];
begin
  begin
    select array_agg(c) into res from identity.token_cells_query(p_starts, p_ends, p_client_id, p_user_id, false) c;
  exception when data_exception then
    select array_agg(c) into res from identity.token_cells_query(p_starts, p_ends, p_client_id, p_user_id, true) c;
  end;
  return query select * from unnest(res);
end
$fn$;

-- ---------------------------------------------------------------------------------------------------------
-- Sealing
-- ---------------------------------------------------------------------------------------------------------

-- A set of user ordinals as bitmaps of 65536 bits (bit i of chunk c is ordinal c * 65536 + i), built from
-- 64-bit words in hex: about a microsecond per member.
create function identity.token_bitmaps(p_ordinals integer[])
returns table (chunk integer, members bit varying)
language sql immutable parallel safe as $$
  select z.chunk,
         ('x' || string_agg(repeat('0000000000000000', z.w - z.prev - 1) || lpad(to_hex(z.v), 16, '0'), '' order by z.w)
              || repeat('0000000000000000', 1023 - max(z.w)))::bit varying
    from (select y.chunk, y.w, y.v, lag(y.w, 1, -1) over (partition by y.chunk order by y.w) as prev
            from (select o >> 16 as chunk, (o & 65535) >> 6 as w, bit_or(1::bigint << (63 - (o & 63))) as v
                    from unnest(p_ordinals) o where o is not null group by 1, 2) y) z
   group by z.chunk
$$;

-- Recomputes every rollup of one UTC hour (its quarters, the hour, its users) from the raw rows: one pass
-- over the hour into per-user cells, everything else from those.
create function identity.token_rollup_seal_hour(p_hour timestamptz) returns void
language plpgsql set jit = off set work_mem = '64MB' as $fn$
begin
  delete from identity.token_rollup r where r.grain in ('h', 'q') and r.bucket >= p_hour and r.bucket < p_hour + interval '1 hour';
  delete from identity.token_rollup_users u where u.grain = 'h' and u.bucket = p_hour;
  begin
    perform identity.token_rollup_write_hour(p_hour, false);
  exception when data_exception then
    -- a malformed timestamp in some detail: again, with the parser that never raises
    perform identity.token_rollup_write_hour(p_hour, true);
  end;
end
$fn$;

create function identity.token_rollup_write_hour(p_hour timestamptz, p_safe boolean) returns void
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  k integer := (select s.top_k from identity.token_rollup_state s);
  h1 timestamptz := p_hour + interval '1 hour';
begin
  with fine as (
    select * from identity.token_cells_query(array[p_hour], array[h1], null, null, p_safe, true)
  ),
  c as materialized (
    select f.q, f.client_id, f.action, f.grant_type, f.reason, sum(f.n) as n, sum(f.rt_issued) as rt_issued,
           sum(f.life_us) as life_us, sum(f.life_n) as life_n, sum(f.ended_us) as ended_us, sum(f.ended_n) as ended_n
      from fine f group by 1, 2, 3, 4, 5
  ),
  g as materialized (
    select grouping(c.q) as gq, grouping(c.client_id) as gc, c.q, c.client_id,
           sum(c.n) as events,
           coalesce(sum(c.n) filter (where c.action like 'token.issued.%'), 0) as issued,
           coalesce(sum(c.n) filter (where c.action = 'token.issued.authorization_code'), 0) as iac,
           coalesce(sum(c.n) filter (where c.action = 'token.issued.refresh_token'), 0) as irt,
           coalesce(sum(c.n) filter (where c.action = 'token.issued.client_credentials'), 0) as icc,
           sum(c.rt_issued) as rti,
           coalesce(sum(c.n) filter (where c.action = 'token.refreshed'), 0) as refreshed,
           coalesce(sum(c.n) filter (where c.reason is not null), 0) as failed,
           coalesce(sum(c.n) filter (where c.action = 'token.userinfo_accessed'), 0) as userinfo,
           coalesce(sum(c.n) filter (where c.action = 'token.revoked'), 0) as revoked,
           coalesce(sum(c.n) filter (where c.action = 'token.introspected'), 0) as introspected,
           sum(c.life_us) as life_us, sum(c.life_n) as life_n, sum(c.ended_us) as ended_us, sum(c.ended_n) as ended_n
      from c
     group by grouping sets ((c.q, c.client_id), (c.q), (c.client_id), ())
    having count(*) > 0
  ),
  f as materialized (
    select x.gq, x.gc, x.q, x.client_id, jsonb_object_agg(x.reason, x.n) as m
      from (select grouping(c.q) as gq, grouping(c.client_id) as gc, c.q, c.client_id, c.reason, sum(c.n) as n
              from c where c.reason is not null
             group by grouping sets ((c.q, c.client_id, c.reason), (c.q, c.reason), (c.client_id, c.reason), (c.reason))) x
     group by x.gq, x.gc, x.q, x.client_id
  ),
  a as materialized (
    select x.client_id, jsonb_agg(jsonb_build_array(x.action, x.grant_type, x.n)) as m
      from (select c.client_id, c.action, c.grant_type, sum(c.n) as n from c where c.action like 'token.%' group by 1, 2, 3) x
     group by x.client_id
  ),
  -- users: tokens issued per (client, user); ordinals for the users seen for the first time
  u0 as (
    select f.client_id, f.user_id, sum(f.n) filter (where f.action like 'token.issued.%') as iss
      from fine f where f.user_id is not null and f.n > 0 group by 1, 2
  ),
  du as (
    select d.user_id, (select o.ordinal from identity.token_user_ordinals o where o.user_id = d.user_id) as ordinal
      from (select distinct u0.user_id from u0) d
  ),
  fresh as (
    insert into identity.token_user_ordinals (user_id)
    select du.user_id from du where du.ordinal is null
    on conflict (user_id) do update set user_id = excluded.user_id
    returning user_id, ordinal
  ),
  ug as (
    select grouping(u0.client_id) = 1 as all_clients, u0.client_id, coalesce(du.ordinal, fr.ordinal) as ordinal,
           coalesce(sum(u0.iss), 0)::integer as iss
      from u0 join du on du.user_id = u0.user_id left join fresh fr on fr.user_id = u0.user_id
     group by grouping sets ((u0.client_id, coalesce(du.ordinal, fr.ordinal)), (coalesce(du.ordinal, fr.ordinal)))
  ),
  bits as (
    insert into identity.token_rollup_users (grain, bucket, all_clients, client_id, chunk, members)
    select 'h', p_hour, true, null, b.chunk, b.members
      from identity.token_bitmaps(array(select ug.ordinal from ug where ug.all_clients)) b
  ),
  lists as materialized (
    select ug.all_clients, ug.client_id,
           array_agg((ug.ordinal::bigint << 32) | ug.iss order by ug.iss desc, ug.ordinal) filter (where ug.iss > 0) as top,
           array_agg((ug.ordinal::bigint << 32) | ug.iss order by ug.ordinal) as alls
      from ug group by ug.all_clients, ug.client_id
  )
  insert into identity.token_rollup (
    grain, bucket, all_clients, client_id, events, issued, issued_authorization_code, issued_refresh_token,
    issued_client_credentials, refresh_tokens_issued, refreshed, failed, userinfo, revoked, introspected,
    lifetime_us, lifetime_n, ended_us, ended_n, failures, actions, top_list, top_tail, all_list
  )
  select case when g.gq = 1 then 'h' else 'q' end, coalesce(g.q, p_hour), g.gc = 1, g.client_id,
         g.events, g.issued, g.iac, g.irt, g.icc, g.rti, g.refreshed, g.failed, g.userinfo, g.revoked, g.introspected,
         g.life_us, g.life_n, g.ended_us, g.ended_n, f.m, a.m,
         l.top[1:k], case when g.gq = 1 then coalesce((l.top[k + 1] & 4294967295)::integer, 0) end, l.alls
    from g
    left join f on f.gq = g.gq and f.gc = g.gc and f.q is not distinct from g.q and f.client_id is not distinct from g.client_id
    left join a on g.gq = 1 and g.gc = 0 and a.client_id is not distinct from g.client_id
    left join lists l on g.gq = 1 and l.all_clients = (g.gc = 1) and l.client_id is not distinct from g.client_id;
end
$fn$;

-- Builds a day's rollups from its 24 sealed hours.
create function identity.token_rollup_build_day(p_day timestamptz) returns void
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  k integer := (select s.top_k from identity.token_rollup_state s);
  d1 timestamptz := p_day + interval '24 hours';
begin
  delete from identity.token_rollup r where r.grain = 'd' and r.bucket = p_day;
  delete from identity.token_rollup_users u where u.grain = 'd' and u.bucket = p_day;

  with h as materialized (
    select r.* from identity.token_rollup r where r.grain = 'h' and r.bucket >= p_day and r.bucket < d1
  ),
  s as materialized (
    select h.all_clients, h.client_id,
           sum(h.events) as events, sum(h.issued) as issued, sum(h.issued_authorization_code) as iac,
           sum(h.issued_refresh_token) as irt, sum(h.issued_client_credentials) as icc, sum(h.refresh_tokens_issued) as rti,
           sum(h.refreshed) as refreshed, sum(h.failed) as failed, sum(h.userinfo) as userinfo, sum(h.revoked) as revoked,
           sum(h.introspected) as introspected, sum(h.lifetime_us) as lus, sum(h.lifetime_n) as ln, sum(h.ended_us) as eus,
           sum(h.ended_n) as en
      from h group by h.all_clients, h.client_id
  ),
  f as materialized (
    select y.all_clients, y.client_id, jsonb_object_agg(y.key, y.n) as m
      from (select h.all_clients, h.client_id, e.key, sum(e.value::bigint) as n
              from h cross join lateral jsonb_each_text(h.failures) e group by 1, 2, 3) y
     group by y.all_clients, y.client_id
  ),
  a as materialized (
    select y.client_id, jsonb_agg(jsonb_build_array(y.action, y.grant_type, y.n) order by y.action, y.grant_type) as m
      from (select h.client_id, e->>0 as action, e->>1 as grant_type, sum((e->>2)::bigint) as n
              from h cross join lateral jsonb_array_elements(h.actions) e where not h.all_clients group by 1, 2, 3) y
     group by y.client_id
  ),
  ul as materialized (
    select h.all_clients, h.client_id, (t.v >> 32)::integer as o, sum(t.v & 4294967295)::bigint as n
      from h cross join lateral unnest(h.all_list) t(v) group by 1, 2, 3
  ),
  u as materialized (
    select ul.all_clients, ul.client_id,
           array_agg((ul.o::bigint << 32) | ul.n order by ul.n desc, ul.o) filter (where ul.n > 0) as top,
           array_agg((ul.o::bigint << 32) | ul.n order by ul.o) as alls
      from ul group by ul.all_clients, ul.client_id
  ),
  -- per-client bitmaps of the day, all in one pass
  cb as (
    insert into identity.token_rollup_users (grain, bucket, all_clients, client_id, chunk, members)
    select 'd', p_day, false, z.client_id, z.chunk,
           ('x' || string_agg(repeat('0000000000000000', z.w - z.prev - 1) || lpad(to_hex(z.v), 16, '0'), '' order by z.w)
                || repeat('0000000000000000', 1023 - max(z.w)))::bit varying
      from (select y.client_id, y.chunk, y.w, y.v, lag(y.w, 1, -1) over (partition by y.client_id, y.chunk order by y.w) as prev
              from (select ul.client_id, ul.o >> 16 as chunk, (ul.o & 65535) >> 6 as w, bit_or(1::bigint << (63 - (ul.o & 63))) as v
                      from ul where not ul.all_clients group by 1, 2, 3) y) z
     group by z.client_id, z.chunk
  )
  insert into identity.token_rollup (
    grain, bucket, all_clients, client_id, events, issued, issued_authorization_code, issued_refresh_token,
    issued_client_credentials, refresh_tokens_issued, refreshed, failed, userinfo, revoked, introspected,
    lifetime_us, lifetime_n, ended_us, ended_n, failures, actions, top_list, top_tail, all_list
  )
  select 'd', p_day, s.all_clients, s.client_id, s.events, s.issued, s.iac, s.irt, s.icc, s.rti, s.refreshed, s.failed,
         s.userinfo, s.revoked, s.introspected, s.lus, s.ln, s.eus, s.en, f.m, a.m,
         u.top[1:k], coalesce((u.top[k + 1] & 4294967295)::integer, 0), u.alls
    from s
    left join f on f.all_clients = s.all_clients and f.client_id is not distinct from s.client_id
    left join a on not s.all_clients and a.client_id is not distinct from s.client_id
    left join u on u.all_clients = s.all_clients and u.client_id is not distinct from s.client_id;

  -- all clients: OR of the hours (per client: above, from the hours' lists)
  insert into identity.token_rollup_users (grain, bucket, all_clients, client_id, chunk, members)
  select 'd', p_day, true, null, u.chunk, bit_or(u.members)
    from identity.token_rollup_users u
   where u.grain = 'h' and u.bucket >= p_day and u.bucket < d1 and u.all_clients
   group by u.chunk;
end
$fn$;

-- A day whose hours are all below the watermark: build it, or mark it dirty when an hour is dirty or
-- someone is writing into it right now (it is built later).
create function identity.token_rollup_close_day(p_day timestamptz) returns boolean
language plpgsql set jit = off set work_mem = '64MB' as $fn$
begin
  if pg_try_advisory_xact_lock(726202, identity.token_day_key(p_day))
     and not exists (select 1 from identity.token_rollup_dirty x
                      where x.grain = 'h' and x.bucket >= p_day and x.bucket < p_day + interval '24 hours') then
    perform identity.token_rollup_build_day(p_day);
    delete from identity.token_rollup_dirty x where x.grain = 'd' and x.bucket = p_day;
    return true;
  end if;
  insert into identity.token_rollup_dirty (grain, bucket) values ('d', p_day) on conflict do nothing;
  return false;
end
$fn$;

-- Seals closed hours: dirty ones first, then moves the watermark forward; at most p_max_hours hours with
-- events (a stretch without token events is passed over cheaply). Returns the number of hours sealed.
create function identity.token_rollup_advance(p_max_hours integer) returns integer
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  st identity.token_rollup_state;
  target timestamptz;
  h timestamptz;
  d timestamptz;
  done integer := 0;
  steps integer := 0;
begin
  select * into st from identity.token_rollup_state;
  if st.watermark is null then return 0; end if;
  target := date_trunc('hour', identity.token_clock() - st.seal_grace, 'UTC');

  for h in select x.bucket from identity.token_rollup_dirty x
            where x.grain = 'h' and x.bucket < st.watermark order by x.bucket limit p_max_hours loop
    if pg_try_advisory_xact_lock(726201, identity.token_hour_key(h))
       and exists (select 1 from identity.token_rollup_dirty x where x.grain = 'h' and x.bucket = h) then
      perform identity.token_rollup_seal_hour(h);
      delete from identity.token_rollup_dirty x where x.grain = 'h' and x.bucket = h;
      done := done + 1;
    end if;
  end loop;

  h := st.watermark;
  while h < target and done < p_max_hours and steps < 10000 loop
    steps := steps + 1;
    exit when not pg_try_advisory_xact_lock(726201, identity.token_hour_key(h));
    -- under the lock: someone may have moved it meanwhile
    if h >= (select s.watermark from identity.token_rollup_state s) then
      if exists (select 1 from identity.audit_logs l
                  where l.created_at >= h and l.created_at < h + interval '1 hour'
                    and (l.action like 'token.%' or l.action = 'client.auth_failed')) then
        perform identity.token_rollup_seal_hour(h);
        done := done + 1;
      end if;
      update identity.token_rollup_state set watermark = greatest(watermark, h + interval '1 hour');
      if h + interval '1 hour' = date_trunc('day', h + interval '1 hour', 'UTC') then
        perform identity.token_rollup_close_day(h + interval '1 hour' - interval '24 hours');
      end if;
    end if;
    h := h + interval '1 hour';
  end loop;

  for d in select x.bucket from identity.token_rollup_dirty x
            where x.grain = 'd' and x.bucket + interval '24 hours' <= (select s.watermark from identity.token_rollup_state s)
              and not exists (select 1 from identity.token_rollup_dirty y
                               where y.grain = 'h' and y.bucket >= x.bucket and y.bucket < x.bucket + interval '24 hours')
            order by x.bucket limit greatest(p_max_hours, 1) loop
    perform identity.token_rollup_close_day(d);
  end loop;
  return done;
end
$fn$;

-- Seals everything that can be sealed now (maintenance, after a bulk load, after downtime).
create function identity.token_rollup_maintain() returns integer
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  total integer := 0;
  n integer;
begin
  loop
    n := identity.token_rollup_advance(500);
    total := total + n;
    exit when n = 0;
  end loop;
  return total;
end
$fn$;

-- Recomputes the rollups from audit_logs: every hour from p_from (default: the oldest raw event) on. Rollups
-- of older hours (whose raw events retention has dropped) are kept.
create function identity.token_rollup_rebuild(p_from timestamptz default null) returns integer
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  f timestamptz := date_trunc('hour', coalesce(p_from, (select min(l.created_at) from identity.audit_logs l)), 'UTC');
begin
  lock table identity.token_rollup_state in exclusive mode;
  if f is null then
    delete from identity.token_rollup;
    delete from identity.token_rollup_users;
    delete from identity.token_rollup_dirty;
    update identity.token_rollup_state set watermark = null;
    return 0;
  end if;
  delete from identity.token_rollup r where (r.grain in ('h', 'q') and r.bucket >= f) or (r.grain = 'd' and r.bucket >= date_trunc('day', f, 'UTC'));
  delete from identity.token_rollup_users u where (u.grain = 'h' and u.bucket >= f) or (u.grain = 'd' and u.bucket >= date_trunc('day', f, 'UTC'));
  delete from identity.token_rollup_dirty x where x.bucket >= date_trunc('day', f, 'UTC');
  if f <> date_trunc('day', f, 'UTC') then
    insert into identity.token_rollup_dirty (grain, bucket) values ('d', date_trunc('day', f, 'UTC')) on conflict do nothing;
  end if;
  update identity.token_rollup_state set watermark = least(coalesce(watermark, f), f);
  update identity.token_rollup_state set watermark = f;
  return identity.token_rollup_maintain();
end
$fn$;

-- The trigger: one call per insert statement (the writer's batch).
create function identity.token_rollup_on_insert() returns trigger
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  hrs timestamptz[];
  lo timestamptz;
  hi timestamptz;
  st identity.token_rollup_state;
begin
  -- the batch's hours (usually one): from its first and last instants when they share an hour
  select date_bin('1 hour', min(i.created_at), timestamptz '2000-01-01 00:00:00+00'),
         date_bin('1 hour', max(i.created_at), timestamptz '2000-01-01 00:00:00+00')
    into lo, hi from inserted i;
  if lo = hi then
    hrs := array[lo];
  elsif lo is not null then
    select array_agg(s.h order by s.h) into hrs
      from (select distinct date_bin('1 hour', i.created_at, timestamptz '2000-01-01 00:00:00+00') as h from inserted i) s;
  end if;
  if hrs is not null then
    -- we are writing into these hours and days: sealing them waits for our commit
    perform pg_advisory_xact_lock_shared(726201, identity.token_hour_key(x.h)) from unnest(hrs) x(h) order by x.h;
    perform pg_advisory_xact_lock_shared(726202, identity.token_day_key(x.d))
       from (select distinct date_bin('1 day', y.h, timestamptz '2000-01-01 00:00:00+00') as d from unnest(hrs) y(h)) x order by x.d;
    select * into st from identity.token_rollup_state;
    if st.watermark is null then
      update identity.token_rollup_state
         set watermark = least(hrs[1], date_trunc('hour', identity.token_clock() - seal_grace, 'UTC'))
       where watermark is null;
      select * into st from identity.token_rollup_state;
    end if;
    if hrs[1] < st.watermark then
      -- late events in sealed hours: those hours (and their days) are read raw until resealed
      insert into identity.token_rollup_dirty (grain, bucket)
      select 'h', x.h from unnest(hrs) x(h) where x.h < st.watermark
      on conflict do nothing;
      insert into identity.token_rollup_dirty (grain, bucket)
      select distinct 'd', date_trunc('day', x.h, 'UTC') from unnest(hrs) x(h)
       where x.h < st.watermark and date_trunc('day', x.h, 'UTC') + interval '24 hours' <= st.watermark
      on conflict do nothing;
    end if;
  else
    select * into st from identity.token_rollup_state;
  end if;
  if st.seal_hours_per_call > 0 and st.watermark is not null
     and (st.watermark < date_trunc('hour', identity.token_clock() - st.seal_grace, 'UTC')
                                   or exists (select 1 from identity.token_rollup_dirty x where x.grain = 'h')) then
    perform identity.token_rollup_advance(st.seal_hours_per_call);
  end if;
  return null;
end
$fn$;


-- ---------------------------------------------------------------------------------------------------------
-- Partitions and retention
-- ---------------------------------------------------------------------------------------------------------

-- Creates the monthly partitions (UTC months) from the month of p_from (default: now) to partitions_ahead
-- months ahead; rows already in the default partition for a new month are moved into it. Returns how many
-- partitions were created. Call it periodically (identity store: analytics.ensurePartitions()).
create function identity.audit_ensure_partitions(p_from timestamptz default null) returns integer
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  st identity.token_rollup_state;
  m timestamp;
  last timestamp;
  name text;
  lo timestamptz;
  hi timestamptz;
  created integer := 0;
begin
  perform pg_advisory_xact_lock(726203);
  select * into st from identity.token_rollup_state;
  m := greatest(date_trunc('month', coalesce(p_from, now()) at time zone 'UTC'),
                date_trunc('month', (now() - st.raw_retention) at time zone 'UTC'));
  last := date_trunc('month', now() at time zone 'UTC') + make_interval(months => st.partitions_ahead);
  while m <= last loop
    name := 'audit_logs_p' || to_char(m, 'YYYY_MM');
    lo := m at time zone 'UTC';
    hi := (m + interval '1 month') at time zone 'UTC';
    if to_regclass(format('identity.%I', name)) is null then
      if exists (select 1 from identity.audit_logs_default l where l.created_at >= lo and l.created_at < hi) then
        execute format('create table identity.%I (like identity.audit_logs including defaults including constraints)', name);
        execute format('with moved as (delete from identity.audit_logs_default where created_at >= $1 and created_at < $2 returning *)
                        insert into identity.%I select * from moved', name) using lo, hi;
        execute format('alter table identity.audit_logs attach partition identity.%I for values from (%L) to (%L)', name, lo, hi);
      else
        execute format('create table identity.%I partition of identity.audit_logs for values from (%L) to (%L)', name, lo, hi);
      end if;
      execute format('alter table identity.%I enable row level security', name);
      created := created + 1;
    end if;
    m := m + interval '1 month';
  end loop;
  return created;
end
$fn$;

-- Drops the monthly partitions that ended before now() - retention (default: the configured raw_retention),
-- after sealing their hours; rollups keep the history. Returns how many partitions were dropped.
create function identity.audit_apply_retention(p_retention interval default null) returns integer
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  horizon timestamptz := now() - coalesce(p_retention, (select s.raw_retention from identity.token_rollup_state s));
  wm timestamptz;
  r record;
  upper_bound timestamptz;
  dropped integer := 0;
begin
  perform identity.token_rollup_maintain();
  wm := coalesce((select s.watermark from identity.token_rollup_state s), '-infinity');
  for r in select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
            where i.inhparent = 'identity.audit_logs'::regclass and c.relname ~ '^audit_logs_p[0-9]{4}_[0-9]{2}$'
            order by c.relname loop
    upper_bound := (to_date(substr(r.relname, 13), 'YYYY_MM') + interval '1 month')::timestamp at time zone 'UTC';
    if upper_bound <= horizon and upper_bound <= wm
       and not exists (select 1 from identity.token_rollup_dirty x where x.grain = 'h' and x.bucket < upper_bound) then
      execute format('drop table identity.%I', r.relname);
      dropped := dropped + 1;
    end if;
  end loop;
  delete from identity.audit_logs_default l
   where l.created_at < least(horizon, wm)
     and not exists (select 1 from identity.token_rollup_dirty x where x.grain = 'h' and x.bucket = date_trunc('hour', l.created_at, 'UTC'));
  return dropped;
end
$fn$;

-- ---------------------------------------------------------------------------------------------------------
-- Reading: ranges as sealed blocks plus raw remainders
-- ---------------------------------------------------------------------------------------------------------

-- Splits each [p_starts[i], p_ends[i]) into whole sealed days (if p_max_grain = 'd'), whole sealed hours
-- (unless p_max_grain = 'q'), whole quarters of sealed hours (if p_min_grain = 'q') and raw intervals for
-- the rest. Every instant of the input is in exactly one piece.
create function identity.token_pieces(
  p_starts timestamptz[], p_ends timestamptz[], p_max_grain text default 'd', p_min_grain text default 'q'
)
returns table (idx integer, grain text, bucket timestamptz, lo timestamptz, hi timestamptz)
language sql stable as $fn$
  with st as (select coalesce(s.watermark, '-infinity'::timestamptz) as wm from identity.token_rollup_state s),
  iv as (
    select u.i::integer as idx, u.a, u.b from unnest(p_starts, p_ends) with ordinality u(a, b, i)
     where u.a < u.b and u.a > '-infinity' and u.b < 'infinity'
  ),
  dd as (
    select iv.idx, iv.a, iv.b, d.d,
           p_max_grain = 'd' and d.d >= iv.a and d.d + interval '24 hours' <= iv.b and d.d + interval '24 hours' <= st.wm
           and not exists (select 1 from identity.token_rollup_dirty x where x.grain = 'd' and x.bucket = d.d) as whole
      from iv cross join st
     cross join lateral generate_series(date_trunc('day', iv.a, 'UTC'), iv.b - interval '1 microsecond', interval '24 hours') d(d)
  ),
  hh as (
    select dd.idx, dd.a, dd.b, h.h,
           h.h + interval '1 hour' <= st.wm
           and not exists (select 1 from identity.token_rollup_dirty x where x.grain = 'h' and x.bucket = h.h) as sealed,
           h.h >= dd.a and h.h + interval '1 hour' <= dd.b as inside
      from dd cross join st
     cross join lateral generate_series(greatest(dd.d, date_trunc('hour', dd.a, 'UTC')),
                                        least(dd.d + interval '24 hours', dd.b) - interval '1 microsecond', interval '1 hour') h(h)
     where not dd.whole
  ),
  qq as (
    select hh.idx, hh.a, hh.b, q.q, q.q >= hh.a and q.q + interval '15 minutes' <= hh.b as inside
      from hh cross join lateral generate_series(hh.h, hh.h + interval '45 minutes', interval '15 minutes') q(q)
     where hh.sealed and p_min_grain = 'q' and not (hh.inside and p_max_grain <> 'q')
       and q.q < hh.b and q.q + interval '15 minutes' > hh.a
  )
  select dd.idx, 'd', dd.d, dd.d, dd.d + interval '24 hours' from dd where dd.whole
  union all
  select hh.idx, 'h', hh.h, hh.h, hh.h + interval '1 hour' from hh where hh.sealed and hh.inside and p_max_grain <> 'q'
  union all
  select qq.idx, 'q', qq.q, qq.q, qq.q + interval '15 minutes' from qq where qq.inside
  union all
  select hh.idx, 'raw', null, greatest(hh.a, hh.h), least(hh.b, hh.h + interval '1 hour') from hh
   where not hh.sealed or (p_min_grain = 'h' and not hh.inside)
  union all
  select qq.idx, 'raw', null, greatest(qq.a, qq.q), least(qq.b, qq.q + interval '15 minutes') from qq where not qq.inside
$fn$;

-- Counts for each interval, as rows per block (rollup rows, and raw remainders per quarter hour) that the
-- caller sums: per interval, or per client (p_by_client), optionally for one client and/or one user (a user
-- filter reads raw rows through the user index: rollups keep no per-user breakdowns).
create function identity.token_blocks(
  p_starts timestamptz[], p_ends timestamptz[], p_client_id text default null, p_user_id uuid default null,
  p_by_client boolean default false, p_max_grain text default 'd', p_min_grain text default 'q'
)
returns table (
  idx integer, bucket timestamptz, client_id text, events bigint, issued bigint, issued_authorization_code bigint,
  issued_refresh_token bigint, issued_client_credentials bigint, refresh_tokens_issued bigint, refreshed bigint,
  failed bigint, userinfo bigint, revoked bigint, introspected bigint, lifetime_us bigint, lifetime_n bigint,
  ended_us bigint, ended_n bigint, failures jsonb
)
language plpgsql stable set jit = off set work_mem = '64MB' as $fn$
#variable_conflict use_column
begin
  return query
  with p as (
    select t.idx, t.grain, t.bucket, t.lo, t.hi
      from identity.token_pieces(p_starts, p_ends, p_max_grain, p_min_grain) t where p_user_id is null
    union all
    select u.i::integer, 'raw', null::timestamptz, u.a, u.b
      from unnest(p_starts, p_ends) with ordinality u(a, b, i) where p_user_id is not null and u.a < u.b
  ),
  rw as (select array_agg(p.lo order by p.idx, p.lo) as lo, array_agg(p.hi order by p.idx, p.lo) as hi,
                array_agg(p.idx order by p.idx, p.lo) as ix
           from p where p.grain = 'raw'),
  c as (
    select rw.ix[x.idx] as idx, x.q, case when p_by_client then x.client_id end as cl, x.action, x.reason,
           x.n, x.rt_issued, x.life_us, x.life_n, x.ended_us, x.ended_n
      from rw cross join lateral identity.token_cells(rw.lo, rw.hi, p_client_id, p_user_id) x
  ),
  g as (
    select c.idx, c.q, c.cl, sum(c.n) as events,
           coalesce(sum(c.n) filter (where c.action like 'token.issued.%'), 0) as issued,
           coalesce(sum(c.n) filter (where c.action = 'token.issued.authorization_code'), 0) as iac,
           coalesce(sum(c.n) filter (where c.action = 'token.issued.refresh_token'), 0) as irt,
           coalesce(sum(c.n) filter (where c.action = 'token.issued.client_credentials'), 0) as icc,
           sum(c.rt_issued) as rti,
           coalesce(sum(c.n) filter (where c.action = 'token.refreshed'), 0) as refreshed,
           coalesce(sum(c.n) filter (where c.reason is not null), 0) as failed,
           coalesce(sum(c.n) filter (where c.action = 'token.userinfo_accessed'), 0) as userinfo,
           coalesce(sum(c.n) filter (where c.action = 'token.revoked'), 0) as revoked,
           coalesce(sum(c.n) filter (where c.action = 'token.introspected'), 0) as introspected,
           sum(c.life_us) as life_us, sum(c.life_n) as life_n, sum(c.ended_us) as ended_us, sum(c.ended_n) as ended_n
      from c group by c.idx, c.q, c.cl
  ),
  f as (
    select y.idx, y.q, y.cl, jsonb_object_agg(y.reason, y.n) as m
      from (select c.idx, c.q, c.cl, c.reason, sum(c.n) as n from c where c.reason is not null group by 1, 2, 3, 4) y
     group by y.idx, y.q, y.cl
  )
  select p.idx, r.bucket, r.client_id, r.events::bigint, r.issued::bigint, r.issued_authorization_code::bigint,
         r.issued_refresh_token::bigint, r.issued_client_credentials::bigint, r.refresh_tokens_issued::bigint, r.refreshed::bigint,
         r.failed::bigint, r.userinfo::bigint, r.revoked::bigint, r.introspected::bigint, r.lifetime_us, r.lifetime_n::bigint,
         r.ended_us, r.ended_n::bigint, r.failures
    from p cross join lateral (
        select * from (
      select r.* from identity.token_rollup r
       where p_client_id is null and r.grain = p.grain and r.bucket = p.bucket and r.all_clients = not p_by_client
      union all
      select r.* from identity.token_rollup r
       where p_client_id is not null and r.grain = p.grain and r.bucket = p.bucket and not r.all_clients and r.client_id = p_client_id
        ) fenced offset 0
      ) r
   where p.grain <> 'raw'
  union all
  select g.idx, g.q, g.cl, g.events::bigint, g.issued::bigint, g.iac::bigint, g.irt::bigint, g.icc::bigint, g.rti::bigint,
         g.refreshed::bigint, g.failed::bigint, g.userinfo::bigint, g.revoked::bigint, g.introspected::bigint,
         g.life_us::bigint, g.life_n::bigint, g.ended_us::bigint, g.ended_n::bigint, f.m
    from g left join f on f.idx = g.idx and f.q = g.q and f.cl is not distinct from g.cl;
end
$fn$;

-- Exact number of distinct users with token events in [p_start, p_end): OR of the day (and, for all clients,
-- hour) bitmaps, plus the users of the other pieces (a client's hour lists, raw remainders) not set in it.
-- One row for the filter (p_client_id, or all clients), or, with p_clients, one row per listed client.
create function identity.token_unique_users(
  p_start timestamptz, p_end timestamptz, p_client_id text default null, p_user_id uuid default null, p_clients text[] default null
)
returns table (client_id text, users bigint)
language plpgsql stable set jit = off set work_mem = '64MB' as $fn$
#variable_conflict use_column
begin
  return query
  with k as (
    select false as all_c, x.c from unnest(p_clients) x(c) where p_clients is not null
    union all
    select p_client_id is null, p_client_id where p_clients is null
  ),
  p as (
    select t.grain, t.bucket, t.lo, t.hi from identity.token_pieces(array[p_start], array[p_end], 'd', 'h') t where p_user_id is null
    union all
    select 'raw', null::timestamptz, p_start, p_end where p_user_id is not null and p_start < p_end
  ),
  b as (
    select k.all_c, k.c, u.chunk, bit_or(u.members) as m
      from k cross join p
      cross join lateral (
        select * from (
        select u.chunk, u.members from identity.token_rollup_users u
         where k.all_c and u.grain = p.grain and u.bucket = p.bucket and u.all_clients
        union all
        select u.chunk, u.members from identity.token_rollup_users u
         where not k.all_c and k.c is not null and u.grain = p.grain and u.bucket = p.bucket and not u.all_clients and u.client_id = k.c
        union all
        select u.chunk, u.members from identity.token_rollup_users u
         where not k.all_c and k.c is null and u.grain = p.grain and u.bucket = p.bucket and not u.all_clients and u.client_id is null
        ) fenced offset 0
      ) u
     where p.grain = 'd' or (p.grain = 'h' and k.all_c)
     group by k.all_c, k.c, u.chunk
  ),
  edge as (
    -- a client's sealed hours
    select k.all_c, k.c, (v >> 32)::integer as ord, null::uuid as uid
      from k cross join p
      cross join lateral (
        select * from (
        select r.all_list from identity.token_rollup r
         where k.c is not null and r.grain = 'h' and r.bucket = p.bucket and not r.all_clients and r.client_id = k.c
        union all
        select r.all_list from identity.token_rollup r
         where k.c is null and r.grain = 'h' and r.bucket = p.bucket and not r.all_clients and r.client_id is null
        ) fenced offset 0
      ) r
     cross join lateral unnest(r.all_list) v
     where p.grain = 'h' and not k.all_c
    union
    -- raw remainders (users not sealed yet have no ordinal)
    select x.all_c, x.c, o.ordinal, case when o.ordinal is null then x.user_id end
      from (select distinct k.all_c, k.c, l.user_id
              from p cross join k
              cross join lateral (
        select * from (
                select l.user_id from identity.audit_logs l
                 where p_user_id is null and l.created_at >= p.lo and l.created_at < p.hi
                   and (k.all_c or l.client_id = k.c or (k.c is null and l.client_id is null))
                   and l.user_id is not null and (l.action like 'token.%' or l.action = 'client.auth_failed')
                union all
                select l.user_id from identity.audit_logs l
                 where p_user_id is not null and l.user_id = p_user_id and l.created_at >= p.lo and l.created_at < p.hi
                   and (k.all_c or l.client_id = k.c or (k.c is null and l.client_id is null))
                   and (l.action like 'token.%' or l.action = 'client.auth_failed')
        ) fenced offset 0
      ) l
             where p.grain = 'raw') x
      left join identity.token_user_ordinals o on o.user_id = x.user_id
  )
  select k.c,
         coalesce((select sum(bit_count(b.m)) from b where b.all_c = k.all_c and b.c is not distinct from k.c), 0)::bigint
         + (select count(*) from edge e
              left join b on b.all_c = e.all_c and b.c is not distinct from e.c and b.chunk = e.ord >> 16
             where e.all_c = k.all_c and e.c is not distinct from k.c
               and (e.ord is null or b.m is null or get_bit(b.m, e.ord & 65535) = 0))
    from k;
end
$fn$;

-- The p_limit users with the most tokens issued in [p_start, p_end) (ties: smaller user id first), exact.
-- A threshold pass over the per-block top-k lists (plus the raw remainders) settles it when usage is skewed,
-- with look-ups in the blocks' complete lists for the few candidates; otherwise the complete lists are summed.
create function identity.token_top_users(
  p_start timestamptz, p_end timestamptz, p_client_id text default null, p_user_id uuid default null, p_limit integer default 10
)
returns table (user_id uuid, issued bigint)
language plpgsql stable set jit = off set work_mem = '64MB' as $fn$
#variable_conflict use_column
declare
  bg text[]; bt timestamptz[]; rlo timestamptz[]; rhi timestamptz[];
  t_all bigint;
  c_o integer[]; c_uid uuid[]; c_lower bigint[]; c_upper bigint[];
  theta bigint;
  n integer;
  keep integer[];
  add bigint[];
  b record;
  al bigint[];
  i integer; lo integer; hi integer; mid integer; v bigint; o integer;
begin
  if p_limit <= 0 then return; end if;
  if p_user_id is not null then
    return query
    select l.user_id, count(*)::bigint from identity.audit_logs l
     where l.user_id = p_user_id and l.created_at >= p_start and l.created_at < p_end and l.action like 'token.issued.%'
       and (p_client_id is null or l.client_id = p_client_id)
     group by l.user_id;
    return;
  end if;

  select array_agg(t.grain) filter (where t.grain <> 'raw'), array_agg(t.bucket) filter (where t.grain <> 'raw'),
         array_agg(t.lo) filter (where t.grain = 'raw'), array_agg(t.hi) filter (where t.grain = 'raw')
    into bg, bt, rlo, rhi
    from identity.token_pieces(array[p_start], array[p_end], 'd', 'h') t;

  -- lower bound: what the top lists and the raw remainders show; upper: plus, for each block where the user
  -- is not listed, the largest count not listed there (t_all - the tails of the blocks where listed)
  with blk as (
    select r.top_list, coalesce(r.top_tail, 0) as tail
      from unnest(bg, bt) x(g, t)
      cross join lateral (
        select * from (
        select r.* from identity.token_rollup r where p_client_id is null and r.grain = x.g and r.bucket = x.t and r.all_clients
        union all
        select r.* from identity.token_rollup r
         where p_client_id is not null and r.grain = x.g and r.bucket = x.t and not r.all_clients and r.client_id = p_client_id
        ) fenced offset 0
      ) r
  ),
  seen as (
    select y.o, sum(y.c) as lower, sum(blk.tail) as listed_tail
      from blk cross join lateral (select (t.v >> 32)::integer as o, t.v & 4294967295 as c from unnest(blk.top_list) t(v)) y group by y.o
  ),
  ru as (
    select l.user_id as uid, o.ordinal as o, count(*) as c
      from unnest(rlo, rhi) w(lo, hi)
      cross join lateral (select l.user_id, l.action, l.client_id from identity.audit_logs l
                           where l.created_at >= w.lo and l.created_at < w.hi offset 0
      ) l
      left join identity.token_user_ordinals o on o.user_id = l.user_id
     where l.user_id is not null and l.action like 'token.issued.%' and (p_client_id is null or l.client_id = p_client_id)
     group by l.user_id, o.ordinal
  ),
  tot as (select coalesce(sum(blk.tail), 0)::bigint as t from blk),
  comb as (
    select coalesce(s.o, ru.o) as o, ru.uid, (coalesce(s.lower, 0) + coalesce(ru.c, 0))::bigint as lower,
           (coalesce(s.lower, 0) + coalesce(ru.c, 0)
             + case when coalesce(s.o, ru.o) is null then 0 else tot.t - coalesce(s.listed_tail, 0) end)::bigint as upper
      from seen s full join ru on ru.o = s.o cross join tot
  )
  select (select tot.t from tot), array_agg(comb.o order by comb.lower desc), array_agg(comb.uid order by comb.lower desc),
         array_agg(comb.lower order by comb.lower desc), array_agg(comb.upper order by comb.lower desc)
    into t_all, c_o, c_uid, c_lower, c_upper
    from comb;

  n := coalesce(array_length(c_o, 1), 0);
  theta := case when n >= p_limit then c_lower[p_limit] else 0 end;
  -- candidates: everyone who could reach theta
  select array_agg(x.i order by x.i) into keep from generate_subscripts(c_lower, 1) x(i) where c_upper[x.i] >= theta;

  if (t_all > 0 and t_all >= theta) or coalesce(array_length(keep, 1), 0) > 2000 then
    -- undecided by the lists: sum the complete lists (exact, slower)
    return query
    with blk as (
      select r.all_list
        from unnest(bg, bt) x(g, t)
        cross join lateral (
        select * from (
          select r.* from identity.token_rollup r where p_client_id is null and r.grain = x.g and r.bucket = x.t and r.all_clients
          union all
          select r.* from identity.token_rollup r
           where p_client_id is not null and r.grain = x.g and r.bucket = x.t and not r.all_clients and r.client_id = p_client_id
        ) fenced offset 0
      ) r
    ),
    s as (
      select (t.v >> 32)::integer as o, sum(t.v & 4294967295) as c from blk cross join lateral unnest(blk.all_list) t(v)
       group by 1 having sum(t.v & 4294967295) > 0
    ),
    ru as (
      select l.user_id as uid, count(*) as c
        from unnest(rlo, rhi) w(lo, hi)
        cross join lateral (select l.user_id, l.action, l.client_id from identity.audit_logs l
                             where l.created_at >= w.lo and l.created_at < w.hi offset 0
      ) l
       where l.user_id is not null and l.action like 'token.issued.%' and (p_client_id is null or l.client_id = p_client_id)
       group by l.user_id
    ),
    allu as (
      select o.user_id as uid, s.c from s join identity.token_user_ordinals o on o.ordinal = s.o
      union all
      select ru.uid, ru.c from ru
    )
    select allu.uid, sum(allu.c)::bigint as c from allu group by allu.uid order by c desc, allu.uid limit p_limit;
    return;
  end if;

  -- no candidate at all: no user was issued a token in this range
  if keep is null then return; end if;

  -- exact counts for the candidates: look them up where they are not listed
  c_o := array(select c_o[x] from unnest(keep) x);
  c_uid := array(select c_uid[x] from unnest(keep) x);
  c_lower := array(select c_lower[x] from unnest(keep) x);
  add := array_fill(0::bigint, array[array_length(keep, 1)]);
  if t_all > 0 then
    for b in select array(select (t.v >> 32)::integer from unnest(r.top_list) t(v)) as listed, r.all_list
               from unnest(bg, bt) x(g, t)
               cross join lateral (
                 select * from (
                   select r.* from identity.token_rollup r where p_client_id is null and r.grain = x.g and r.bucket = x.t and r.all_clients
                   union all
                   select r.* from identity.token_rollup r
                    where p_client_id is not null and r.grain = x.g and r.bucket = x.t and not r.all_clients and r.client_id = p_client_id
                 ) fenced offset 0
               ) r
              where coalesce(r.top_tail, 0) > 0 loop
      al := b.all_list;
      for i in 1 .. array_length(keep, 1) loop
        o := c_o[i];
        continue when o is null or o = any(b.listed);
        -- binary search by ordinal (the high 32 bits)
        lo := 1;
        hi := coalesce(array_length(al, 1), 0);
        while lo <= hi loop
          mid := (lo + hi) / 2;
          v := al[mid] >> 32;
          if v = o then
            add[i] := add[i] + (al[mid] & 4294967295);
            exit;
          elsif v < o then
            lo := mid + 1;
          else
            hi := mid - 1;
          end if;
        end loop;
      end loop;
    end loop;
  end if;

  return query
  select coalesce(x.uid, o.user_id), x.c
    from (select c_o[i] as o, c_uid[i] as uid, c_lower[i] + add[i] as c from generate_subscripts(c_o, 1) i) x
    left join identity.token_user_ordinals o on o.ordinal = x.o
   order by x.c desc, coalesce(x.uid, o.user_id)
   limit p_limit;
end
$fn$;

-- [p_start, p_end) narrowed to where data (raw or rolled up) exists; s >= e when there is none.
create function identity.token_clamp(p_start timestamptz, p_end timestamptz, out s timestamptz, out e timestamptz)
language sql stable as $fn$
  select greatest(p_start, least(coalesce((select min(r.bucket) from identity.token_rollup r where r.grain = 'd'), 'infinity'),
                                 coalesce((select min(r.bucket) from identity.token_rollup r where r.grain = 'h'), 'infinity'),
                                 coalesce((select min(l.created_at) from identity.audit_logs l), 'infinity'))),
         least(p_end, greatest(coalesce((select max(l.created_at) from identity.audit_logs l) + interval '1 microsecond', '-infinity'),
                               coalesce((select max(r.bucket) from identity.token_rollup r where r.grain = 'h') + interval '1 hour', '-infinity')))
$fn$;

-- Everything the token analytics dashboard shows for [p_start, p_end), optionally for one client and/or one
-- user, with time buckets of p_bucket ('hour', 'day', 'week' (ISO, Monday), 'month'; default from the length
-- of the range) and the peak-usage heatmap in the IANA zone p_tz. Exact. One call, one JSON document.
create function identity.token_dashboard(
  p_start timestamptz, p_end timestamptz, p_client_id text default null, p_user_id uuid default null,
  p_tz text default 'UTC', p_bucket text default null, p_top integer default 10
)
returns jsonb
language plpgsql stable set jit = off set work_mem = '64MB' as $fn$
#variable_conflict use_column
declare
  unit text;
  cs timestamptz;
  ce timestamptz;
  b_lo timestamptz[];
  b_hi timestamptz[];
  b_start timestamptz[];
  b_label text[];
  whole_hour boolean;
  totals jsonb;
  series jsonb;
  fail jsonb;
  clients jsonb;
  tops jsonb;
  users jsonb;
  heat jsonb;
  uu bigint;
begin
  if p_end <= p_start then
    raise exception 'empty range' using errcode = '22023';
  end if;
  perform now() at time zone p_tz;  -- an unknown zone fails here
  unit := coalesce(p_bucket, case when p_end - p_start <= interval '48 hours' then 'hour'
                                  when p_end - p_start <= interval '31 days' then 'day'
                                  when p_end - p_start <= interval '182 days' then 'week' else 'month' end);
  if unit not in ('hour', 'day', 'week', 'month') then
    raise exception 'unknown bucket %', unit using errcode = '22023';
  end if;
  select c.s, c.e into cs, ce from identity.token_clamp(p_start, p_end) c;

  -- time buckets in the admin's zone
  if unit = 'hour' then
    select array_agg(t order by t), array_agg(to_char(t at time zone p_tz, 'YYYY-MM-DD"T"HH24:MI') order by t)
      into b_start, b_label
      from generate_series(date_trunc('hour', p_start, p_tz), p_end - interval '1 microsecond', interval '1 hour') t;
    b_hi := array(select x + interval '1 hour' from unnest(b_start) x);
  else
    select array_agg(x.s order by x.s), array_agg(x.e order by x.s), array_agg(to_char(x.l, 'YYYY-MM-DD') order by x.s)
      into b_start, b_hi, b_label
      from (select t as l, t at time zone p_tz as s, (t + ('1 ' || unit)::interval) at time zone p_tz as e
              from generate_series(date_trunc(unit, p_start, p_tz) at time zone p_tz, p_end at time zone p_tz, ('1 ' || unit)::interval) t) x
     where x.s < p_end;
  end if;
  b_lo := array(select greatest(x, p_start, cs) from unnest(b_start) x);
  b_hi := array(select least(x, p_end, ce) from unnest(b_hi) x);
  -- zones whose hours all start on the UTC hour read the heatmap from hourly rollups, others (:30, :45) from quarters
  select coalesce(bool_and(extract(minute from (h at time zone p_tz)) = 0), true) into whole_hour
    from generate_series(date_trunc('hour', greatest(p_start, cs), 'UTC'), least(p_end, ce), interval '1 hour') h
   where cs < ce;

  with r as (select * from identity.token_blocks(b_lo, b_hi, p_client_id, p_user_id, false, 'd', 'q')),
  per as (
    select r.idx, sum(r.events) as events, sum(r.issued) as issued, sum(r.issued_authorization_code) as iac,
           sum(r.issued_refresh_token) as irt, sum(r.issued_client_credentials) as icc, sum(r.refresh_tokens_issued) as rti,
           sum(r.refreshed) as refreshed, sum(r.failed) as failed, sum(r.userinfo) as userinfo, sum(r.revoked) as revoked,
           sum(r.introspected) as introspected, sum(r.lifetime_us) as lus, sum(r.lifetime_n) as ln,
           sum(r.ended_us) as eus, sum(r.ended_n) as en
      from r group by r.idx
  ),
  fr as (
    select r.idx, f.key as reason, sum(f.value::bigint) as n
      from r cross join lateral jsonb_each_text(r.failures) f group by r.idx, f.key
  ),
  t as (
    select coalesce(sum(per.events), 0) as events, coalesce(sum(per.issued), 0) as issued, coalesce(sum(per.rti), 0) as rti,
           coalesce(sum(per.refreshed), 0) as refreshed, coalesce(sum(per.failed), 0) as failed,
           coalesce(sum(per.userinfo), 0) as userinfo, coalesce(sum(per.revoked), 0) as revoked,
           coalesce(sum(per.introspected), 0) as introspected, coalesce(sum(per.lus), 0) as lus, coalesce(sum(per.ln), 0) as ln,
           coalesce(sum(per.eus), 0) as eus, coalesce(sum(per.en), 0) as en,
           coalesce(sum(per.iac), 0) as iac, coalesce(sum(per.irt), 0) as irt, coalesce(sum(per.icc), 0) as icc
      from per
  )
  select
    (select jsonb_build_object(
        'token_events', t.events, 'total_issued', t.issued, 'total_refreshed', t.refreshed, 'total_failed', t.failed,
        'userinfo_accessed', t.userinfo, 'revoked', t.revoked, 'introspected', t.introspected,
        'refresh_tokens_issued', t.rti,
        'issued_by_grant', jsonb_build_object('authorization_code', t.iac, 'refresh_token', t.irt, 'client_credentials', t.icc,
                                              'other', t.issued - t.iac - t.irt - t.icc),
        'lifetime', jsonb_build_object(
          'issued_avg_seconds', case when t.ln > 0 then round(t.lus::numeric / t.ln / 1000000, 3) end, 'issued_count', t.ln,
          'actual_avg_seconds', case when t.en > 0 then round(t.eus::numeric / t.en / 1000000, 3) end, 'actual_count', t.en),
        'rates', jsonb_build_object(
          'refresh_share', case when t.issued > 0 then round(t.irt::numeric / t.issued, 6) end,
          'refresh_token_usage_rate', case when t.rti > 0 then round(t.refreshed::numeric / t.rti, 6) end,
          'failure_rate', case when t.issued + t.failed > 0 then round(t.failed::numeric / (t.issued + t.failed), 6) end))
       from t),
    (select jsonb_agg(jsonb_build_object(
        'start', b_start[i], 'label', b_label[i],
        'authorization_code', coalesce(per.iac, 0), 'refresh_token', coalesce(per.irt, 0),
        'client_credentials', coalesce(per.icc, 0), 'other', coalesce(per.issued - per.iac - per.irt - per.icc, 0),
        'total', coalesce(per.issued, 0)) order by i)
       from generate_subscripts(b_start, 1) i left join per on per.idx = i),
    (select jsonb_build_object(
        'reasons', coalesce((select jsonb_agg(z.reason order by z.n desc, z.reason)
                               from (select fr.reason, sum(fr.n) as n from fr group by fr.reason) z), '[]'::jsonb),
        'series', (select jsonb_agg(jsonb_build_object(
                      'start', b_start[i], 'label', b_label[i], 'total', coalesce(per.failed, 0),
                      'by_reason', coalesce((select jsonb_object_agg(fr.reason, fr.n) from fr where fr.idx = i), '{}'::jsonb)) order by i)
                     from generate_subscripts(b_start, 1) i left join per on per.idx = i)))
    into totals, series, fail
    from (select 1) one;

  -- per client: every client, and the most active ones
  with r as (select * from identity.token_blocks(array[cs], array[ce], p_client_id, p_user_id, true, 'd', 'q')),
  c as (
    select r.client_id, sum(r.events) as events, sum(r.issued) as issued, sum(r.issued_authorization_code) as iac,
           sum(r.issued_refresh_token) as irt, sum(r.issued_client_credentials) as icc, sum(r.refreshed) as refreshed,
           sum(r.failed) as failed
      from r group by r.client_id
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'client_id', c.client_id, 'issued', c.issued, 'authorization_code', c.iac, 'refresh_token', c.irt,
           'client_credentials', c.icc, 'other', c.issued - c.iac - c.irt - c.icc, 'refreshed', c.refreshed,
           'failed', c.failed, 'events', c.events) order by c.issued desc, c.events desc, c.client_id nulls last), '[]'::jsonb),
         coalesce((select jsonb_agg(x.j order by x.events desc, x.client_id nulls last) from (
             select c2.client_id, c2.events, jsonb_build_object('client_id', c2.client_id, 'events', c2.events, 'issued', c2.issued,
                                                              'refreshed', c2.refreshed, 'failed', c2.failed) as j
               from c c2 order by c2.events desc, c2.client_id nulls last limit p_top) x), '[]'::jsonb)
    into clients, tops
    from c;

  -- unique users: overall and for the most active clients
  select u.users into uu from identity.token_unique_users(cs, ce, p_client_id, p_user_id) u;
  select coalesce(jsonb_agg(e.value || jsonb_build_object('unique_users', coalesce(u.users, 0)) order by e.ordinality), '[]'::jsonb)
    into tops
    from jsonb_array_elements(tops) with ordinality e
    left join identity.token_unique_users(cs, ce, null, p_user_id,
                                          array(select x->>'client_id' from jsonb_array_elements(tops) x)) u
      on u.client_id is not distinct from e.value->>'client_id';

  select coalesce(jsonb_agg(jsonb_build_object('user_id', t.user_id, 'email', usr.email, 'issued', t.issued)
                            order by t.issued desc, t.user_id), '[]'::jsonb)
    into users
    from identity.token_top_users(cs, ce, p_client_id, p_user_id, p_top) t
    left join identity.users usr on usr.id = t.user_id;

  -- peak usage: token events by ISO weekday (1 = Monday) and hour of day, in the admin's zone
  with r as (select * from identity.token_blocks(array[cs], array[ce], p_client_id, p_user_id, false,
                                                 case when whole_hour then 'h' else 'q' end, 'q')),
  cell as (
    select extract(isodow from (r.bucket at time zone p_tz))::integer as dow, extract(hour from (r.bucket at time zone p_tz))::integer as hr,
           sum(r.events) as n
      from r group by 1, 2
  )
  select jsonb_agg((select jsonb_agg(coalesce((select cell.n from cell where cell.dow = d and cell.hr = h), 0) order by h)
                      from generate_series(0, 23) h) order by d)
    into heat
    from generate_series(1, 7) d;

  return jsonb_build_object(
    'range', jsonb_build_object('start', p_start, 'end', p_end, 'tz', p_tz, 'bucket', unit,
                                'hour_aligned_zone', whole_hour),
    'filters', jsonb_build_object('client_id', p_client_id, 'user_id', p_user_id),
    'stats', (totals - 'lifetime' - 'rates') || jsonb_build_object('unique_users', coalesce(uu, 0),
                                                                    'unique_clients', jsonb_array_length(clients)
                                                                      - (case when clients @> '[{"client_id": null}]' then 1 else 0 end)),
    'lifetime', totals->'lifetime',
    'rates', totals->'rates',
    'issuance', coalesce(series, '[]'::jsonb),
    'failures', fail,
    'by_client', clients,
    'top_clients', tops,
    'top_users', users,
    'peak', jsonb_build_object('metric', 'token_events', 'weekday_hour', heat)
  );
end
$fn$;

-- ---------------------------------------------------------------------------------------------------------
-- The story's names, now served by the rollups
-- ---------------------------------------------------------------------------------------------------------

-- Daily token activity by action, client and grant (story name and columns). Days are UTC days.
create view identity.token_analytics as
with st as (select coalesce(s.watermark, '-infinity'::timestamptz) as wm from identity.token_rollup_state s)
select x.date, x.action, x.client_id, x.grant_type, sum(x.n)::bigint as count
  from (
    -- sealed days
    select (r.bucket at time zone 'UTC')::date as date, a->>0 as action, r.client_id, a->>1 as grant_type, (a->>2)::bigint as n
      from identity.token_rollup r cross join st cross join lateral jsonb_array_elements(r.actions) a
     where r.grain = 'd' and not r.all_clients and r.bucket + interval '24 hours' <= st.wm
       and not exists (select 1 from identity.token_rollup_dirty x where x.grain = 'd' and x.bucket = r.bucket)
    union all
    -- sealed hours of days that are not
    select (r.bucket at time zone 'UTC')::date, a->>0, r.client_id, a->>1, (a->>2)::bigint
      from identity.token_rollup r cross join st cross join lateral jsonb_array_elements(r.actions) a
     where r.grain = 'h' and not r.all_clients and r.bucket + interval '1 hour' <= st.wm
       and not exists (select 1 from identity.token_rollup_dirty x where x.grain = 'h' and x.bucket = r.bucket)
       and (date_trunc('day', r.bucket, 'UTC') + interval '24 hours' > st.wm
            or exists (select 1 from identity.token_rollup_dirty x where x.grain = 'd' and x.bucket = date_trunc('day', r.bucket, 'UTC')))
    union all
    -- hours not sealed
    select (l.created_at at time zone 'UTC')::date, l.action, l.client_id, l.grant_type, 1
      from identity.audit_logs l
     where l.action like 'token.%' and l.created_at >= (select st.wm from st)
    union all
    select (l.created_at at time zone 'UTC')::date, l.action, l.client_id, l.grant_type, 1
      from identity.token_rollup_dirty x
      cross join lateral (select l.created_at, l.action, l.client_id, l.grant_type from identity.audit_logs l
                           where l.created_at >= x.bucket and l.created_at < x.bucket + interval '1 hour' and l.action like 'token.%' offset 0
      ) l
     where x.grain = 'h' and x.bucket < (select st.wm from st)
  ) x
 where x.action like 'token.%'
 group by x.date, x.action, x.client_id, x.grant_type;

-- Token totals for a time range (both ends included), optionally for one client (story signature and meaning).
-- Failed: the failed token requests (token.validation_failed, token.pkce_failed, token.code_invalid,
-- token.code_replayed, token.refresh_reused, token.expired, client.auth_failed); users and clients: distinct
-- non-null ids over the token events (token.%, client.auth_failed).
create or replace function identity.get_token_stats(
  p_start_date timestamptz,
  p_end_date timestamptz,
  p_client_id text default null
)
returns table (
  total_issued bigint,
  total_refreshed bigint,
  total_failed bigint,
  unique_users bigint,
  unique_clients bigint
)
language plpgsql
stable
set jit = off
set work_mem = '64MB'
as $fn$
#variable_conflict use_column
declare
  s timestamptz;
  e timestamptz;
begin
  select c.s, c.e into s, e from identity.token_clamp(p_start_date, p_end_date + interval '1 microsecond') c;
  if s is null or e is null or s >= e then
    return query select 0::bigint, 0::bigint, 0::bigint, 0::bigint, 0::bigint;
    return;
  end if;
  return query
  with r as (select * from identity.token_blocks(array[s], array[e], p_client_id, null, true, 'd', 'q'))
  select coalesce(sum(r.issued), 0)::bigint, coalesce(sum(r.refreshed), 0)::bigint, coalesce(sum(r.failed), 0)::bigint,
         (select u.users from identity.token_unique_users(s, e, p_client_id) u),
         count(distinct r.client_id)::bigint
    from r;
end
$fn$;

-- ---------------------------------------------------------------------------------------------------------
-- Move the existing rows over, build the rollups, start maintaining them
-- ---------------------------------------------------------------------------------------------------------

select identity.audit_ensure_partitions((select min(created_at) from identity.audit_logs_unpartitioned));
insert into identity.audit_logs select * from identity.audit_logs_unpartitioned;
select setval('identity.audit_log_id_seq', coalesce((select max(id) from identity.audit_logs_unpartitioned), 0) + 1, false);
drop table identity.audit_logs_unpartitioned;
-- a small trail is sealed now; a large one from its first hour on, by the trigger and analytics.maintain()
-- (answers stay exact meanwhile: unsealed hours are read raw)
select case when (select count(*) from (select 1 from identity.audit_logs limit 100000) x) < 100000
            then identity.token_rollup_rebuild()
       end;
update identity.token_rollup_state
   set watermark = date_trunc('hour', (select min(created_at) from identity.audit_logs), 'UTC')
 where watermark is null;

create trigger audit_logs_token_rollup
  after insert on identity.audit_logs
  referencing new table as inserted
  for each statement execute function identity.token_rollup_on_insert();

revoke all on function identity.get_token_stats(timestamptz, timestamptz, text) from public;

-- On Supabase: the API roles get nothing here either (no-op on plain Postgres).
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on all tables in schema identity from anon, authenticated';
    execute 'revoke all on all sequences in schema identity from anon, authenticated';
    execute 'revoke all on all functions in schema identity from anon, authenticated';
  end if;
end
$$;
