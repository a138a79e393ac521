-- Token analytics: faster reads of the sealed rollups (issue 5's speed target), same answers.
--
-- 20261122000300_token_analytics is applied as is; this migration replaces some of its read functions (same
-- names, signatures and results) and adds indexes:
--
-- 1. Realistic row estimates for the set-returning functions (the default, 1000 rows per call, multiplied
--    through nested laterals, made the planner pick merge joins with full sorts of the ordinals table).
-- 2. identity.token_blocks reads sealed blocks as RUNS of consecutive buckets, one index range scan per run,
--    instead of one index look-up per block (the 90-day peak-usage heatmap had 2,160 hours or 8,640 quarters).
--    A partial index over the all-clients rows serves those range scans without stepping over the per-client
--    rows of each bucket.
-- 3. identity.token_unique_users reads the raw remainders once for every requested client (not once per
--    client), looks users up in token_user_ordinals through its primary key, and fetches the bitmaps and the
--    hour lists of all the requested clients with array look-ups.

-- range scans over the blocks of all clients, and of one client, that also answer the heatmap (events only)
-- from the index alone
create index token_rollup_all_clients_idx on identity.token_rollup (grain, bucket) include (events) where all_clients;
create index token_rollup_client_events_idx on identity.token_rollup (client_id, grain, bucket) include (events) where not all_clients;
drop index identity.token_rollup_client_idx;

-- User bitmaps (8 KiB each) inline in the row, lz4-compressed where the server has it: OR-ing a range's
-- bitmaps no longer fetches each from the TOAST table and inflates it with pglz. Existing bitmaps are
-- rewritten once here (a new value is compressed with the column's method).
alter table identity.token_rollup_users alter column members set storage main;
do $$
begin
  if exists (select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
    execute 'alter table identity.token_rollup_users alter column members set compression lz4';
  end if;
end
$$;
update identity.token_rollup_users set members = members || B'';

-- Weekly user bitmaps (grain 'w', bucket: Monday 00:00 UTC): the OR of a week's day bitmaps, for all clients
-- and per client, built when the week's last day closes and again whenever one of its days is rebuilt. A
-- reader uses a week only when all its 7 days are sealed and clean (the days it would OR otherwise), so a
-- week is never read stale. A 90-day range ORs about 18 bitmaps per set instead of 90.
alter table identity.token_rollup_users drop constraint token_rollup_users_grain_check;
alter table identity.token_rollup_users add constraint token_rollup_users_grain_check check (grain in ('h', 'd', 'w'));

create function identity.token_rollup_build_week(p_week timestamptz) returns void
language plpgsql set jit = off set work_mem = '64MB' as $fn$
begin
  delete from identity.token_rollup_users u where u.grain = 'w' and u.bucket = p_week;
  if p_week + interval '7 days' <= (select coalesce(s.watermark, '-infinity'::timestamptz) from identity.token_rollup_state s)
     and not exists (select 1 from identity.token_rollup_dirty x
                      where x.grain in ('h', 'd') and x.bucket >= p_week and x.bucket < p_week + interval '7 days') then
    insert into identity.token_rollup_users (grain, bucket, all_clients, client_id, chunk, members)
    select 'w', p_week, u.all_clients, u.client_id, u.chunk, bit_or(u.members)
      from identity.token_rollup_users u
     where u.grain = 'd' and u.bucket >= p_week and u.bucket < p_week + interval '7 days'
     group by u.all_clients, u.client_id, u.chunk;
  end if;
end
$fn$;

-- A day whose hours are all below the watermark: build it (and its week), or mark it dirty when an hour is
-- dirty or someone is writing into it right now (it is built later).
create or replace function identity.token_rollup_close_day(p_day timestamptz) returns boolean
language plpgsql set jit = off set work_mem = '64MB' as $fn$
begin
  if pg_try_advisory_xact_lock(726202, identity.token_day_key(p_day))
     and not exists (select 1 from identity.token_rollup_dirty x
                      where x.grain = 'h' and x.bucket >= p_day and x.bucket < p_day + interval '24 hours') then
    perform identity.token_rollup_build_day(p_day);
    delete from identity.token_rollup_dirty x where x.grain = 'd' and x.bucket = p_day;
    perform identity.token_rollup_build_week(date_trunc('week', p_day, 'UTC'));
    return true;
  end if;
  insert into identity.token_rollup_dirty (grain, bucket) values ('d', p_day) on conflict do nothing;
  return false;
end
$fn$;

-- the weeks already closed
select identity.token_rollup_build_week(w.w)
  from (select distinct date_trunc('week', u.bucket, 'UTC') as w from identity.token_rollup_users u where u.grain = 'd') w;

alter function identity.token_pieces(timestamptz[], timestamptz[], text, text) rows 100;
alter function identity.token_cells_query(timestamptz[], timestamptz[], text, uuid, boolean, boolean) rows 500;
alter function identity.token_cells(timestamptz[], timestamptz[], text, uuid) rows 500;
alter function identity.token_bitmaps(integer[]) rows 2;

-- Counts for each interval, as rows per block (rollup rows, and raw remainders per quarter hour) that the
-- caller sums: per interval, or per client (p_by_client), optionally for one client and/or one user (a user
-- filter reads raw rows through the user index: rollups keep no per-user breakdowns).
create or replace function identity.token_blocks(
  p_starts timestamptz[], p_ends timestamptz[], p_client_id text default null, p_user_id uuid default null,
  p_by_client boolean default false, p_max_grain text default 'd', p_min_grain text default 'q'
)
returns table (
  idx integer, bucket timestamptz, client_id text, events bigint, issued bigint, issued_authorization_code bigint,
  issued_refresh_token bigint, issued_client_credentials bigint, refresh_tokens_issued bigint, refreshed bigint,
  failed bigint, userinfo bigint, revoked bigint, introspected bigint, lifetime_us bigint, lifetime_n bigint,
  ended_us bigint, ended_n bigint, failures jsonb
)
language plpgsql stable rows 200 set jit = off set work_mem = '64MB' as $fn$
#variable_conflict use_column
begin
  return query
  with p as materialized (
    select t.idx, t.grain, t.bucket, t.lo, t.hi
      from identity.token_pieces(p_starts, p_ends, p_max_grain, p_min_grain) t where p_user_id is null
    union all
    select u.i::integer, 'raw', null::timestamptz, u.a, u.b
      from unnest(p_starts, p_ends) with ordinality u(a, b, i) where p_user_id is not null and u.a < u.b
  ),
  -- sealed blocks as runs of consecutive buckets of one grain (every bucket of a run is a piece)
  runs as (
    select x.idx, x.grain, min(x.bucket) as lo, max(x.bucket) as hi
      from (select p.idx, p.grain, p.bucket,
                   p.bucket - (row_number() over (partition by p.idx, p.grain order by p.bucket))
                              * case p.grain when 'd' then interval '24 hours' when 'h' then interval '1 hour'
                                             else interval '15 minutes' end as k
              from p where p.grain <> 'raw') x
     group by x.idx, x.grain, x.k
  ),
  rw as (select array_agg(p.lo order by p.idx, p.lo) as lo, array_agg(p.hi order by p.idx, p.lo) as hi,
                array_agg(p.idx order by p.idx, p.lo) as ix
           from p where p.grain = 'raw'),
  c as (
    select rw.ix[x.idx] as idx, x.q, case when p_by_client then x.client_id end as cl, x.action, x.reason,
           x.n, x.rt_issued, x.life_us, x.life_n, x.ended_us, x.ended_n
      from rw cross join lateral identity.token_cells(rw.lo, rw.hi, p_client_id, p_user_id) x
     where rw.lo is not null
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
  select runs.idx, r.bucket, r.client_id, r.events::bigint, r.issued::bigint, r.issued_authorization_code::bigint,
         r.issued_refresh_token::bigint, r.issued_client_credentials::bigint, r.refresh_tokens_issued::bigint, r.refreshed::bigint,
         r.failed::bigint, r.userinfo::bigint, r.revoked::bigint, r.introspected::bigint, r.lifetime_us, r.lifetime_n::bigint,
         r.ended_us, r.ended_n::bigint, r.failures
    from runs cross join lateral (
      -- fenced: one index range scan per run, whatever plan is cached; only the columns needed
      select * from (
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures
          from identity.token_rollup r
         where p_client_id is null and not p_by_client and r.all_clients
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures
          from identity.token_rollup r
         where p_client_id is null and p_by_client and not r.all_clients
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures
          from identity.token_rollup r
         where p_client_id is not null and not r.all_clients and r.client_id = p_client_id
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
      ) fenced offset 0
    ) r
  union all
  select g.idx, g.q, g.cl, g.events::bigint, g.issued::bigint, g.iac::bigint, g.irt::bigint, g.icc::bigint, g.rti::bigint,
         g.refreshed::bigint, g.failed::bigint, g.userinfo::bigint, g.revoked::bigint, g.introspected::bigint,
         g.life_us::bigint, g.life_n::bigint, g.ended_us::bigint, g.ended_n::bigint, f.m
    from g left join f on f.idx = g.idx and f.q = g.q and f.cl is not distinct from g.cl;
end
$fn$;

-- The sealed blocks of token_blocks only (no raw remainders): rollup rows for the sealed pieces of each
-- interval, read as runs of consecutive buckets (one index range scan per run).
create function identity.token_blocks_sealed(
  p_starts timestamptz[], p_ends timestamptz[], p_client_id text, p_by_client boolean, p_max_grain text, p_min_grain text
)
returns table (
  idx integer, bucket timestamptz, client_id text, events bigint, issued bigint, issued_authorization_code bigint,
  issued_refresh_token bigint, issued_client_credentials bigint, refresh_tokens_issued bigint, refreshed bigint,
  failed bigint, userinfo bigint, revoked bigint, introspected bigint, lifetime_us bigint, lifetime_n bigint,
  ended_us bigint, ended_n bigint, failures jsonb
)
language plpgsql stable rows 200 set jit = off set work_mem = '64MB' as $fn$
#variable_conflict use_column
begin
  return query
  with runs as (
    select x.idx, x.grain, min(x.bucket) as lo, max(x.bucket) as hi
      from (select p.idx, p.grain, p.bucket,
                   p.bucket - (row_number() over (partition by p.idx, p.grain order by p.bucket))
                              * case p.grain when 'd' then interval '24 hours' when 'h' then interval '1 hour'
                                             else interval '15 minutes' end as k
              from identity.token_pieces(p_starts, p_ends, p_max_grain, p_min_grain) p where p.grain <> 'raw') x
     group by x.idx, x.grain, x.k
  )
  select runs.idx, r.bucket, r.client_id, r.events::bigint, r.issued::bigint, r.issued_authorization_code::bigint,
         r.issued_refresh_token::bigint, r.issued_client_credentials::bigint, r.refresh_tokens_issued::bigint, r.refreshed::bigint,
         r.failed::bigint, r.userinfo::bigint, r.revoked::bigint, r.introspected::bigint, r.lifetime_us, r.lifetime_n::bigint,
         r.ended_us, r.ended_n::bigint, r.failures
    from runs cross join lateral (
      select * from (
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures
          from identity.token_rollup r
         where p_client_id is null and not p_by_client and r.all_clients
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures
          from identity.token_rollup r
         where p_client_id is null and p_by_client and not r.all_clients
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures
          from identity.token_rollup r
         where p_client_id is not null and not r.all_clients and r.client_id = p_client_id
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
      ) fenced offset 0
    ) r;
end
$fn$;

-- Raw cells (identity.token_cells) summed into block rows per quarter hour (bucket = the quarter) and, with
-- p_by_client, per client; idx is the cell's interval.
create function identity.token_cell_blocks(p_cells identity.token_cell[], p_by_client boolean)
returns table (
  idx integer, bucket timestamptz, client_id text, events bigint, issued bigint, issued_authorization_code bigint,
  issued_refresh_token bigint, issued_client_credentials bigint, refresh_tokens_issued bigint, refreshed bigint,
  failed bigint, userinfo bigint, revoked bigint, introspected bigint, lifetime_us bigint, lifetime_n bigint,
  ended_us bigint, ended_n bigint, failures jsonb
)
language sql stable rows 100 as $fn$
  with c as (
    select x.idx, x.q, case when p_by_client then x.client_id end as cl, x.action, x.reason,
           x.n, x.rt_issued, x.life_us, x.life_n, x.ended_us, x.ended_n
      from unnest(p_cells) x
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
  select g.idx, g.q, g.cl, g.events::bigint, g.issued::bigint, g.iac::bigint, g.irt::bigint, g.icc::bigint, g.rti::bigint,
         g.refreshed::bigint, g.failed::bigint, g.userinfo::bigint, g.revoked::bigint, g.introspected::bigint,
         g.life_us::bigint, g.life_n::bigint, g.ended_us::bigint, g.ended_n::bigint, f.m
    from g left join f on f.idx = g.idx and f.q = g.q and f.cl is not distinct from g.cl
$fn$;

-- Exact numbers of distinct users with token events in [p_start, p_end), for several sets at once: all clients
-- (p_all) and each client of p_clients (a null element: the events without a client). One row per set.
-- OR of the day (and, for all clients, hour) bitmaps, plus the users of the other pieces (a client's hour
-- lists, raw remainders) not set in it. The raw remainders are read once for all the sets, and each of their
-- users is looked up once in token_user_ordinals (primary key); the sets are told apart by a small integer.
create function identity.token_unique_counts(
  p_start timestamptz, p_end timestamptz, p_user_id uuid, p_all boolean, p_clients text[]
)
returns table (all_clients boolean, client_id text, users bigint)
language plpgsql stable rows 11 set jit = off set work_mem = '64MB' set plan_cache_mode = force_generic_plan as $fn$
#variable_conflict use_column
declare
  cl text[] := array(select distinct x from unnest(p_clients) x where x is not null);
  nn integer := coalesce(cardinality(array(select distinct x from unnest(p_clients) x where x is not null)), 0);
  with_null boolean := p_clients is not null and array_position(p_clients, null) is not null;
  days timestamptz[];
  hours timestamptz[];
  rlo timestamptz[];
  rhi timestamptz[];
  weeks timestamptz[];
  -- the OR-ed bitmaps: bm[kix * nch + chunk + 1]; base[kix + 1]: their members
  nch integer;
  bm bit varying[];
  base bigint[];
begin
  if p_user_id is null then
    select array_agg(t.bucket) filter (where t.grain = 'd'), array_agg(t.bucket) filter (where t.grain = 'h'),
           array_agg(t.lo) filter (where t.grain = 'raw'), array_agg(t.hi) filter (where t.grain = 'raw')
      into days, hours, rlo, rhi
      from identity.token_pieces(array[p_start], array[p_end], 'd', 'h') t;
  elsif p_start < p_end then
    rlo := array[p_start];
    rhi := array[p_end];
  end if;
  -- whole weeks (all 7 days sealed and clean) are read from the weekly bitmaps, the other days from their own
  if days is not null then
    weeks := array(select date_trunc('week', d, 'UTC') from unnest(days) d group by 1 having count(*) = 7);
    days := array(select d from unnest(days) d where date_trunc('week', d, 'UTC') <> all(weeks));
  end if;

  -- the sets: 0 all clients, 1..nn the clients of cl, nn + 1 the events without a client.
  -- Bitmaps: days (all clients, or per client), and for all clients the sealed hours of partial days.
  with src as (
    select 0 as kix, u.chunk, u.members from identity.token_rollup_users u
     where p_all and u.grain = 'd' and u.bucket = any(days) and u.all_clients
    union all
    select 0 as kix, u.chunk, u.members from identity.token_rollup_users u
     where p_all and u.grain = 'w' and u.bucket = any(weeks) and u.all_clients
    union all
    select array_position(cl, u.client_id), u.chunk, u.members from identity.token_rollup_users u
     where nn > 0 and u.client_id = any(cl) and u.grain = 'w' and u.bucket = any(weeks) and not u.all_clients
    union all
    select nn + 1, u.chunk, u.members from identity.token_rollup_users u
     where with_null and u.client_id is null and u.grain = 'w' and u.bucket = any(weeks) and not u.all_clients
    union all
    select 0, u.chunk, u.members from identity.token_rollup_users u
     where p_all and u.grain = 'h' and u.bucket = any(hours) and u.all_clients
    union all
    select array_position(cl, u.client_id), u.chunk, u.members from identity.token_rollup_users u
     where nn > 0 and u.client_id = any(cl) and u.grain = 'd' and u.bucket = any(days) and not u.all_clients
    union all
    select nn + 1, u.chunk, u.members from identity.token_rollup_users u
     where with_null and u.client_id is null and u.grain = 'd' and u.bucket = any(days) and not u.all_clients
  ),
  b as materialized (select src.kix, src.chunk, bit_or(src.members) as m from src group by src.kix, src.chunk),
  n as (select coalesce(max(b.chunk), 0) + 1 as nch from b)
  select n.nch,
         array(select (select b.m from b where b.kix = x.i / n.nch and b.chunk = x.i % n.nch)
                 from generate_series(0, (nn + 2) * n.nch - 1) x(i) order by x.i),
         array(select coalesce((select sum(bit_count(b.m)) from b where b.kix = x.i), 0)::bigint
                 from generate_series(0, nn + 1) x(i) order by x.i)
    into nch, bm, base
    from n;

  return query
  with k as (
    select 0 as kix, true as all_c, null::text as c where p_all
    union all
    select x.i::integer, false, x.c from unnest(cl) with ordinality x(c, i)
    union all
    select nn + 1, false, null::text where with_null
  ),
  -- a client's sealed hours of partial days: the users of the hour's list not in the bitmap
  hl as (
    select y.kix, y.ord
      from (select array_position(cl, r.client_id) as kix, (v >> 32)::integer as ord
              from identity.token_rollup r cross join lateral unnest(r.all_list) v
             where nn > 0 and r.client_id = any(cl) and r.grain = 'h' and r.bucket = any(hours) and not r.all_clients
            union all
            select nn + 1, (v >> 32)::integer
              from identity.token_rollup r cross join lateral unnest(r.all_list) v
             where with_null and r.client_id is null and r.grain = 'h' and r.bucket = any(hours) and not r.all_clients) y
     where (y.ord >> 16) >= nch or coalesce(get_bit(bm[y.kix * nch + (y.ord >> 16) + 1], y.ord & 65535), 0) = 0
  ),
  -- raw remainders, read once for all the sets
  rl as materialized (
    select distinct l.client_id, l.user_id
      from unnest(rlo, rhi) w(lo, hi)
      cross join lateral (
        select l.client_id, l.user_id from identity.audit_logs l
         where p_user_id is null and l.created_at >= w.lo and l.created_at < w.hi
           and l.user_id is not null and (l.action like 'token.%' or l.action = 'client.auth_failed')
        union all
        select l.client_id, l.user_id from identity.audit_logs l
         where p_user_id is not null and l.user_id = p_user_id and l.created_at >= w.lo and l.created_at < w.hi
           and (l.action like 'token.%' or l.action = 'client.auth_failed')
        offset 0
      ) l
     where p_all or l.client_id = any(cl) or (with_null and l.client_id is null)
  ),
  -- one ordinal look-up per user; users not sealed yet have none (counted apart, by id)
  ro as materialized (
    select d.user_id, o.ordinal as ord
      from (select distinct rl.user_id from rl) d
      left join (select o.user_id, o.ordinal from identity.token_user_ordinals o
                  where o.user_id = any(array(select distinct rl.user_id from rl))) o on o.user_id = d.user_id
  ),
  ru as (
    select y.kix, ro.ord, case when ro.ord is null then y.user_id end as uid
      from (select 0 as kix, rl.user_id from rl where p_all
            union all
            select array_position(cl, rl.client_id), rl.user_id from rl where nn > 0 and rl.client_id = any(cl)
            union all
            select nn + 1, rl.user_id from rl where with_null and rl.client_id is null) y
      join ro on ro.user_id = y.user_id
     where ro.ord is null or (ro.ord >> 16) >= nch
        or coalesce(get_bit(bm[y.kix * nch + (ro.ord >> 16) + 1], ro.ord & 65535), 0) = 0
  ),
  -- distinct (set, ordinal) pairs, packed in one bigint; users without an ordinal by id
  extra as (
    select e.kix, count(*) as n
      from (select distinct z.p >> 32 as kix, z.p
              from (select (hl.kix::bigint << 32) | hl.ord as p from hl
                    union all
                    select (ru.kix::bigint << 32) | ru.ord from ru where ru.ord is not null) z) e
     group by e.kix
    union all
    select ru.kix, count(distinct ru.uid) from ru where ru.ord is null group by ru.kix
  )
  select k.all_c, k.c, (base[k.kix + 1] + coalesce((select sum(extra.n) from extra where extra.kix = k.kix), 0))::bigint
    from k;
end
$fn$;

-- Exact number of distinct users with token events in [p_start, p_end) (see token_unique_counts).
-- One row for the filter (p_client_id, or all clients), or, with p_clients, one row per listed client.
create or replace function identity.token_unique_users(
  p_start timestamptz, p_end timestamptz, p_client_id text default null, p_user_id uuid default null, p_clients text[] default null
)
returns table (client_id text, users bigint)
language sql stable rows 10 as $fn$
  select u.client_id, u.users
    from identity.token_unique_counts(p_start, p_end, p_user_id, p_clients is null and p_client_id is null,
                                      case when p_clients is not null then p_clients
                                           when p_client_id is not null then array[p_client_id] end) u
$fn$;

-- The p_limit users with the most tokens issued in [p_start, p_end) (ties: smaller user id first), exact.
-- A threshold pass over the per-block top-k lists (plus the raw remainders) settles it when usage is skewed,
-- with look-ups in the blocks' complete lists for the few candidates; otherwise the complete lists are summed.
create or replace function identity.token_top_users(
  p_start timestamptz, p_end timestamptz, p_client_id text default null, p_user_id uuid default null, p_limit integer default 10
)
returns table (user_id uuid, issued bigint)
language plpgsql stable rows 10 set jit = off set work_mem = '64MB' as $fn$
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
        select r.top_list, r.top_tail from identity.token_rollup r where p_client_id is null and r.grain = x.g and r.bucket = x.t and r.all_clients
        union all
        select r.top_list, r.top_tail from identity.token_rollup r
         where p_client_id is not null and r.grain = x.g and r.bucket = x.t and not r.all_clients and r.client_id = p_client_id
        ) fenced offset 0
      ) r
  ),
  seen as (
    select y.o, sum(y.c) as lower, sum(blk.tail) as listed_tail
      from blk cross join lateral (select (t.v >> 32)::integer as o, t.v & 4294967295 as c from unnest(blk.top_list) t(v)) y group by y.o
  ),
  ru0 as materialized (
    select l.user_id as uid, count(*) as c
      from unnest(rlo, rhi) w(lo, hi)
      cross join lateral (select l.user_id, l.action, l.client_id from identity.audit_logs l
                           where l.created_at >= w.lo and l.created_at < w.hi offset 0
      ) l
     where l.user_id is not null and l.action like 'token.issued.%' and (p_client_id is null or l.client_id = p_client_id)
     group by l.user_id
  ),
  ru as (
    -- the users' ordinals in one index scan (primary key)
    select ru0.uid, o.ordinal as o, ru0.c
      from ru0
      left join (select o.user_id, o.ordinal from identity.token_user_ordinals o
                  where o.user_id = any(array(select ru0.uid from ru0))) o on o.user_id = ru0.uid
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
          select r.all_list from identity.token_rollup r where p_client_id is null and r.grain = x.g and r.bucket = x.t and r.all_clients
          union all
          select r.all_list from identity.token_rollup r
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
    -- only the blocks where some candidate is not listed (their complete lists are large: read only those)
    for b in select r.listed, r.all_list
               from unnest(bg, bt) x(g, t)
               cross join lateral (
                 select * from (
                   select array(select (t.v >> 32)::integer from unnest(r.top_list) t(v)) as listed, r.top_tail, r.all_list
                     from identity.token_rollup r where p_client_id is null and r.grain = x.g and r.bucket = x.t and r.all_clients
                   union all
                   select array(select (t.v >> 32)::integer from unnest(r.top_list) t(v)), r.top_tail, r.all_list
                     from identity.token_rollup r
                    where p_client_id is not null and r.grain = x.g and r.bucket = x.t and not r.all_clients and r.client_id = p_client_id
                 ) fenced offset 0
               ) r
              where coalesce(r.top_tail, 0) > 0
                and exists (select 1 from unnest(c_o) co where co is not null and not co = any(r.listed)) loop
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
  select y.uid, y.c
    from (select coalesce(x.uid, (select o.user_id from identity.token_user_ordinals o where o.ordinal = x.o)) as uid, x.c
            from (select c_o[i] as o, c_uid[i] as uid, c_lower[i] + add[i] as c from generate_subscripts(c_o, 1) i) x) y
   order by y.c desc, y.uid
   limit p_limit;
end
$fn$;

-- Token events per block for the peak-usage heatmap: sealed hours (p_grain 'h') or quarters ('q', for zones
-- whose hours do not start on the UTC hour), quarters of partly covered sealed hours, and the raw remainders
-- per quarter hour. Sealed blocks come from index-only range scans (events only).
create function identity.token_heat(
  p_start timestamptz, p_end timestamptz, p_client_id text, p_user_id uuid, p_grain text, p_raw boolean default true
)
returns table (bucket timestamptz, events bigint)
language plpgsql stable rows 2500 set jit = off set work_mem = '64MB' as $fn$
#variable_conflict use_column
begin
  return query
  with p as materialized (
    select t.grain, t.bucket, t.lo, t.hi
      from identity.token_pieces(array[p_start], array[p_end], p_grain, 'q') t where p_user_id is null
    union all
    select 'raw', null::timestamptz, p_start, p_end where p_user_id is not null and p_start < p_end
  ),
  runs as (
    select x.grain, min(x.bucket) as lo, max(x.bucket) as hi
      from (select p.grain, p.bucket,
                   p.bucket - (row_number() over (partition by p.grain order by p.bucket))
                              * case p.grain when 'd' then interval '24 hours' when 'h' then interval '1 hour'
                                             else interval '15 minutes' end as k
              from p where p.grain <> 'raw') x
     group by x.grain, x.k
  ),
  rw as (select array_agg(p.lo order by p.lo) as lo, array_agg(p.hi order by p.lo) as hi from p where p.grain = 'raw')
  select r.bucket, r.events::bigint
    from runs cross join lateral (
      select * from (
        select r.bucket, r.events from identity.token_rollup r
         where p_client_id is null and r.all_clients and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.events from identity.token_rollup r
         where p_client_id is not null and not r.all_clients and r.client_id = p_client_id
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
      ) fenced offset 0
    ) r
  union all
  select x.q, sum(x.n)::bigint
    from rw cross join lateral identity.token_cells(rw.lo, rw.hi, p_client_id, p_user_id) x
   where p_raw and rw.lo is not null
   group by x.q;
end
$fn$;

-- Everything the token analytics dashboard shows for [p_start, p_end), optionally for one client and/or one
-- user, with time buckets of p_bucket ('hour', 'day', 'week' (ISO, Monday), 'month'; default from the length
-- of the range) and the peak-usage heatmap in the IANA zone p_tz. Exact. One call, one JSON document.
create or replace function identity.token_dashboard(
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
  -- shared: the raw remainders are read once for the series, the clients and the heatmap
  shared boolean;
  rlo timestamptz[];
  rhi timestamptz[];
  rawc identity.token_cell[];
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

  -- Without a user filter, and when every bucket boundary inside the range falls on a quarter hour (all zones
  -- in use today), the raw remainders of the range are the same for every query below, and each of their
  -- quarter-hour cells lies in one bucket: read them once.
  -- (With a user filter the whole range is read raw, through the user index: once as well.)
  shared := cs < ce
            and (select coalesce(bool_and(x in (cs, ce) or mod(extract(epoch from x), 900) = 0), true)
                   from unnest(b_lo || b_hi) x where x > cs and x < ce);
  if shared then
    if p_user_id is null then
      select array_agg(t.lo order by t.lo), array_agg(t.hi order by t.lo) into rlo, rhi
        from identity.token_pieces(array[cs], array[ce], 'd', 'q') t where t.grain = 'raw';
    else
      rlo := array[cs];
      rhi := array[ce];
    end if;
    if rlo is not null then
      rawc := array(select c from identity.token_cells(rlo, rhi, p_client_id, p_user_id) c);
    end if;
  end if;

  with r as (
    select * from identity.token_blocks(b_lo, b_hi, p_client_id, p_user_id, false, 'd', 'q') where not shared
    union all
    select * from identity.token_blocks_sealed(b_lo, b_hi, p_client_id, false, 'd', 'q') where shared and p_user_id is null
    union all
    select bi.i, x.bucket, x.client_id, x.events, x.issued, x.issued_authorization_code, x.issued_refresh_token,
           x.issued_client_credentials, x.refresh_tokens_issued, x.refreshed, x.failed, x.userinfo, x.revoked,
           x.introspected, x.lifetime_us, x.lifetime_n, x.ended_us, x.ended_n, x.failures
      from identity.token_cell_blocks(rawc, false) x
      join generate_subscripts(b_lo, 1) bi(i) on greatest(x.bucket, cs) >= b_lo[bi.i] and greatest(x.bucket, cs) < b_hi[bi.i]
     where shared
  ),
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
  with r as (
    select * from identity.token_blocks(array[cs], array[ce], p_client_id, p_user_id, true, 'd', 'q') where not shared
    union all
    select * from identity.token_blocks_sealed(array[cs], array[ce], p_client_id, true, 'd', 'q') where shared and p_user_id is null
    union all
    select * from identity.token_cell_blocks(rawc, true) where shared
  ),
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
  -- (one pass over the raw remainders for all of them)
  with u as materialized (
    select * from identity.token_unique_counts(cs, ce, p_user_id, p_client_id is null,
                                               array(select x->>'client_id' from jsonb_array_elements(tops) x)
                                                 || case when p_client_id is not null then array[p_client_id] else '{}'::text[] end)
  )
  select (select u.users from u where (p_client_id is null and u.all_clients) or (not u.all_clients and u.client_id = p_client_id)),
         (select coalesce(jsonb_agg(e.value || jsonb_build_object('unique_users', coalesce(
                                      (select u.users from u where not u.all_clients and u.client_id is not distinct from e.value->>'client_id'), 0))
                                    order by e.ordinality), '[]'::jsonb)
            from jsonb_array_elements(tops) with ordinality e)
    into uu, tops;

  select coalesce(jsonb_agg(jsonb_build_object('user_id', t.user_id, 'email', usr.email, 'issued', t.issued)
                            order by t.issued desc, t.user_id), '[]'::jsonb)
    into users
    from identity.token_top_users(cs, ce, p_client_id, p_user_id, p_top) t
    left join identity.users usr on usr.id = t.user_id;

  -- peak usage: token events by ISO weekday (1 = Monday) and hour of day, in the admin's zone
  with cell as materialized (
    select extract(isodow from (r.bucket at time zone p_tz))::integer as dow, extract(hour from (r.bucket at time zone p_tz))::integer as hr,
           sum(r.events) as n
      from (select h.bucket, h.events
              from identity.token_heat(cs, ce, p_client_id, p_user_id, case when whole_hour then 'h' else 'q' end, not shared) h
            union all
            select x.bucket, x.events from identity.token_cell_blocks(rawc, false) x where shared) r
     group by 1, 2
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
