-- Token analytics: reading a range as sealed blocks plus raw remainders. A range is split into whole sealed
-- days, hours and quarters (read from the rollups) and raw pieces (read from audit_logs); unique users OR
-- the bitmaps; top users run a threshold pass over the per-block top-k lists.

-- Splits each [p_starts[i], p_ends[i]) into whole sealed days (if p_max_grain = 'd'), whole sealed hours
-- (unless p_max_grain = 'q'), whole quarters of sealed hours (if p_min_grain = 'q') and raw intervals for
-- the rest. Every instant of the input is in exactly one piece. A day or hour counts as sealed when it is
-- below the watermark and not dirty. Called by: every reader. Read-only.
create function identity.token_pieces(
  p_starts timestamptz[], p_ends timestamptz[], p_max_grain text default 'd', p_min_grain text default 'q'
)
returns table (idx integer, grain text, bucket timestamptz, lo timestamptz, hi timestamptz)
language sql stable rows 100 as $fn$
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

-- The sealed blocks of token_blocks only (no raw remainders): rollup rows for the sealed pieces of each
-- interval, read as runs of consecutive buckets (one index range scan per run). p_audience: only that
-- audience's blocks ('' the provider's default); p_by_audience: one block per audience (the "by API"
-- breakdown; audience set, '' for the default one) instead of per client.
-- Called by: token_blocks, token_dashboard. Read-only.
create function identity.token_blocks_sealed(
  p_starts timestamptz[], p_ends timestamptz[], p_client_id text, p_by_client boolean, p_max_grain text, p_min_grain text,
  p_audience text default null, p_by_audience boolean default false
)
returns table (
  idx integer, bucket timestamptz, client_id text, events bigint, issued bigint, issued_authorization_code bigint,
  issued_refresh_token bigint, issued_client_credentials bigint, refresh_tokens_issued bigint, refreshed bigint,
  failed bigint, userinfo bigint, revoked bigint, introspected bigint, lifetime_us bigint, lifetime_n bigint,
  ended_us bigint, ended_n bigint, failures jsonb, audience text
)
language plpgsql stable rows 200 set jit = off set work_mem = '64MB' as $fn$
#variable_conflict use_column
declare
  aud text := coalesce(p_audience, '*');
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
         r.ended_us, r.ended_n::bigint, r.failures, case when p_by_audience then r.audience::text end
    from runs cross join lateral (
      select * from (
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures, r.audience
          from identity.token_rollup r
         where p_client_id is null and not p_by_client and not p_by_audience and r.all_clients and r.audience = aud
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures, r.audience
          from identity.token_rollup r
         where p_client_id is null and p_by_client and not p_by_audience and r.audience = aud and not r.all_clients
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures, r.audience
          from identity.token_rollup r
         where p_client_id is not null and not p_by_audience and not r.all_clients and r.client_id = p_client_id and r.audience = aud
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures, r.audience
          from identity.token_rollup r
         where p_client_id is null and p_by_audience and r.all_clients and r.audience <> '*' and (p_audience is null or r.audience = p_audience)
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures, r.audience
          from identity.token_rollup r
         where p_client_id is not null and p_by_audience and not r.all_clients and r.client_id = p_client_id
           and r.audience <> '*' and (p_audience is null or r.audience = p_audience)
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
      ) fenced offset 0
    ) r;
end
$fn$;

-- Raw cells (identity.token_cells) summed into block rows per quarter hour (bucket = the quarter) and, with
-- p_by_client, per client, with p_by_audience per audience (the cells must have been read per audience);
-- idx is the cell's interval. Called by: token_dashboard. Read-only.
create function identity.token_cell_blocks(p_cells identity.token_cell[], p_by_client boolean, p_by_audience boolean default false)
returns table (
  idx integer, bucket timestamptz, client_id text, events bigint, issued bigint, issued_authorization_code bigint,
  issued_refresh_token bigint, issued_client_credentials bigint, refresh_tokens_issued bigint, refreshed bigint,
  failed bigint, userinfo bigint, revoked bigint, introspected bigint, lifetime_us bigint, lifetime_n bigint,
  ended_us bigint, ended_n bigint, failures jsonb, audience text
)
language sql stable rows 100 as $fn$
  with c as (
    select x.idx, x.q, case when p_by_client then x.client_id end as cl, case when p_by_audience then x.audience end as au,
           x.action, x.reason, x.n, x.rt_issued, x.life_us, x.life_n, x.ended_us, x.ended_n
      from unnest(p_cells) x
  ),
  g as (
    select c.idx, c.q, c.cl, c.au, sum(c.n) as events,
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
      from c group by c.idx, c.q, c.cl, c.au
  ),
  f as (
    select y.idx, y.q, y.cl, y.au, jsonb_object_agg(y.reason, y.n) as m
      from (select c.idx, c.q, c.cl, c.au, c.reason, sum(c.n) as n from c where c.reason is not null group by 1, 2, 3, 4, 5) y
     group by y.idx, y.q, y.cl, y.au
  )
  select g.idx, g.q, g.cl, g.events::bigint, g.issued::bigint, g.iac::bigint, g.irt::bigint, g.icc::bigint, g.rti::bigint,
         g.refreshed::bigint, g.failed::bigint, g.userinfo::bigint, g.revoked::bigint, g.introspected::bigint,
         g.life_us::bigint, g.life_n::bigint, g.ended_us::bigint, g.ended_n::bigint, f.m, g.au
    from g left join f on f.idx = g.idx and f.q = g.q and f.cl is not distinct from g.cl and f.au is not distinct from g.au
$fn$;

-- Counts for each interval, as rows per block (rollup rows, and raw remainders per quarter hour) that the
-- caller sums: per interval, per client (p_by_client) or per audience (p_by_audience), optionally for one
-- client, one user (a user filter reads raw rows through the user index: rollups keep no per-user
-- breakdowns) and/or one audience (p_audience, '' the provider's default).
-- Called by: get_token_stats, token_dashboard (with a user filter or zones off the quarter hour). Read-only.
create function identity.token_blocks(
  p_starts timestamptz[], p_ends timestamptz[], p_client_id text default null, p_user_id uuid default null,
  p_by_client boolean default false, p_max_grain text default 'd', p_min_grain text default 'q',
  p_audience text default null, p_by_audience boolean default false
)
returns table (
  idx integer, bucket timestamptz, client_id text, events bigint, issued bigint, issued_authorization_code bigint,
  issued_refresh_token bigint, issued_client_credentials bigint, refresh_tokens_issued bigint, refreshed bigint,
  failed bigint, userinfo bigint, revoked bigint, introspected bigint, lifetime_us bigint, lifetime_n bigint,
  ended_us bigint, ended_n bigint, failures jsonb, audience text
)
language plpgsql stable rows 200 set jit = off set work_mem = '64MB' as $fn$
#variable_conflict use_column
declare
  aud text := coalesce(p_audience, '*');
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
    select rw.ix[x.idx] as idx, x.q, case when p_by_client then x.client_id end as cl, x.audience as au, x.action, x.reason,
           x.n, x.rt_issued, x.life_us, x.life_n, x.ended_us, x.ended_n
      from rw cross join lateral identity.token_cells(rw.lo, rw.hi, p_client_id, p_user_id, p_audience, p_by_audience) x
     where rw.lo is not null
  ),
  g as (
    select c.idx, c.q, c.cl, c.au, sum(c.n) as events,
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
      from c group by c.idx, c.q, c.cl, c.au
  ),
  f as (
    select y.idx, y.q, y.cl, y.au, jsonb_object_agg(y.reason, y.n) as m
      from (select c.idx, c.q, c.cl, c.au, c.reason, sum(c.n) as n from c where c.reason is not null group by 1, 2, 3, 4, 5) y
     group by y.idx, y.q, y.cl, y.au
  )
  select runs.idx, r.bucket, r.client_id, r.events::bigint, r.issued::bigint, r.issued_authorization_code::bigint,
         r.issued_refresh_token::bigint, r.issued_client_credentials::bigint, r.refresh_tokens_issued::bigint, r.refreshed::bigint,
         r.failed::bigint, r.userinfo::bigint, r.revoked::bigint, r.introspected::bigint, r.lifetime_us, r.lifetime_n::bigint,
         r.ended_us, r.ended_n::bigint, r.failures, case when p_by_audience then r.audience::text end
    from runs cross join lateral (
      -- fenced: one index range scan per run, whatever plan is cached; only the columns needed
      select * from (
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures, r.audience
          from identity.token_rollup r
         where p_client_id is null and not p_by_client and not p_by_audience and r.all_clients and r.audience = aud
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures, r.audience
          from identity.token_rollup r
         where p_client_id is null and p_by_client and not p_by_audience and r.audience = aud and not r.all_clients
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures, r.audience
          from identity.token_rollup r
         where p_client_id is not null and not p_by_audience and not r.all_clients and r.client_id = p_client_id and r.audience = aud
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures, r.audience
          from identity.token_rollup r
         where p_client_id is null and p_by_audience and r.all_clients and r.audience <> '*' and (p_audience is null or r.audience = p_audience)
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.client_id, r.events, r.issued, r.issued_authorization_code, r.issued_refresh_token,
               r.issued_client_credentials, r.refresh_tokens_issued, r.refreshed, r.failed, r.userinfo, r.revoked,
               r.introspected, r.lifetime_us, r.lifetime_n, r.ended_us, r.ended_n, r.failures, r.audience
          from identity.token_rollup r
         where p_client_id is not null and p_by_audience and not r.all_clients and r.client_id = p_client_id
           and r.audience <> '*' and (p_audience is null or r.audience = p_audience)
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
      ) fenced offset 0
    ) r
  union all
  select g.idx, g.q, g.cl, g.events::bigint, g.issued::bigint, g.iac::bigint, g.irt::bigint, g.icc::bigint, g.rti::bigint,
         g.refreshed::bigint, g.failed::bigint, g.userinfo::bigint, g.revoked::bigint, g.introspected::bigint,
         g.life_us::bigint, g.life_n::bigint, g.ended_us::bigint, g.ended_n::bigint, f.m, g.au
    from g left join f on f.idx = g.idx and f.q = g.q and f.cl is not distinct from g.cl and f.au is not distinct from g.au;
end
$fn$;

-- Exact numbers of distinct users with token events in [p_start, p_end), per set: all clients (p_all) and
-- each client of p_clients. Each set ORs its day (and week, and for all clients hour) bitmaps into one bit
-- string in a variable, then counts the users of its other pieces (a client's hour lists, the raw remainders'
-- users by ordinal, reading only its own slice of them) whose bit is not set. p_audience: every set counts only
-- that audience's users ('' the provider's default): its day and week bitmaps, and its hour lists (all clients too).
-- Called by: token_unique_users, token_dashboard. Read-only.
create function identity.token_unique_counts(
  p_start timestamptz, p_end timestamptz, p_user_id uuid, p_all boolean, p_clients text[], p_audience text default null
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
  -- chunks of 65536 ordinals that exist; an absent chunk reads as zeros
  nch integer := coalesce((select max(o.ordinal) from identity.token_user_ordinals o), 0) / 65536 + 1;
  zero bit varying := 0::bit(65536);
  -- raw remainders, read once for every set: (set, ordinal) pairs, and the users without an ordinal yet
  r_kix integer[];
  r_ord integer[];
  u_kix integer[];
  u_uid uuid[];
  k integer;
  kc text;
  chunks bit varying[];
  b bit varying;
  extra bigint;
  -- each set's slice of r_ord (index k + 1 for set k)
  r_first integer[];
  r_count integer[];
  aud text := coalesce(p_audience, '*');
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

  -- sets: 0 all clients, 1..nn the clients of cl, nn + 1 the events without a client
  with rl as materialized (
    select distinct l.client_id, l.user_id
      from unnest(rlo, rhi) w(lo, hi)
      cross join lateral (
        select l.client_id, l.user_id from identity.audit_logs l
         where p_user_id is null and l.created_at >= w.lo and l.created_at < w.hi
           and l.user_id is not null and (l.action like 'token.%' or l.action = 'client.auth_failed')
           and (p_audience is null or identity.token_audience(l.audience) = p_audience)
        union all
        select l.client_id, l.user_id from identity.audit_logs l
         where p_user_id is not null and l.user_id = p_user_id and l.created_at >= w.lo and l.created_at < w.hi
           and (l.action like 'token.%' or l.action = 'client.auth_failed')
           and (p_audience is null or identity.token_audience(l.audience) = p_audience)
        offset 0
      ) l
     where p_all or l.client_id = any(cl) or (with_null and l.client_id is null)
  ),
  -- one ordinal look-up per user (primary key); users not sealed yet have none
  ro as materialized (
    select d.user_id, o.ordinal as ord
      from (select distinct rl.user_id from rl) d
      left join (select o.user_id, o.ordinal from identity.token_user_ordinals o
                  where o.user_id = any(array(select distinct rl.user_id from rl))) o on o.user_id = d.user_id
  ),
  y as (
    select 0 as kix, rl.user_id from rl where p_all
    union all
    select array_position(cl, rl.client_id), rl.user_id from rl where nn > 0 and rl.client_id = any(cl)
    union all
    select nn + 1, rl.user_id from rl where with_null and rl.client_id is null
  )
  select array_agg(y.kix order by y.kix) filter (where ro.ord is not null), array_agg(ro.ord order by y.kix) filter (where ro.ord is not null),
         array_agg(y.kix) filter (where ro.ord is null), array_agg(y.user_id) filter (where ro.ord is null)
    into r_kix, r_ord, u_kix, u_uid
    from y join ro on ro.user_id = y.user_id;
  -- where each set's pairs start (1-based) in r_ord, and how many there are
  select array_agg(coalesce(n.first, 1) order by s.k), array_agg(coalesce(n.c, 0) order by s.k)
    into r_first, r_count
    from generate_series(0, nn + 1) s(k)
    left join (select x.kk, min(x.i)::integer as first, count(*)::integer as c
                 from unnest(r_kix) with ordinality x(kk, i) group by x.kk) n on n.kk = s.k;

  for k in select x from generate_series(0, nn + 1) x
            where (x = 0 and p_all) or (x between 1 and nn) or (x = nn + 1 and with_null) loop
    kc := case when k between 1 and nn then cl[k] end;
    -- the set's bitmaps, OR-ed per chunk: days and weeks (for all clients also the sealed hours of partial
    -- days; a client's partial days come from its hour lists below)
    chunks := array(
      select coalesce(m.m, zero)
        from generate_series(0, nch - 1) c(c)
        left join (
          select s.chunk, bit_or(s.members) as m
            from (select u.chunk, u.members from identity.token_rollup_users u
                   where k = 0 and u.grain = 'd' and u.bucket = any(days) and u.all_clients and u.audience = aud
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k = 0 and u.grain = 'w' and u.bucket = any(weeks) and u.all_clients and u.audience = aud
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k = 0 and aud = '*' and u.grain = 'h' and u.bucket = any(hours) and u.all_clients and u.audience = '*'
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k > 0 and kc is not null and u.client_id = kc and u.audience = aud and u.grain = 'd' and u.bucket = any(days) and not u.all_clients
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k > 0 and kc is not null and u.client_id = kc and u.audience = aud and u.grain = 'w' and u.bucket = any(weeks) and not u.all_clients
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k = nn + 1 and u.client_id is null and u.audience = aud and u.grain = 'd' and u.bucket = any(days) and not u.all_clients
                  union all
                  select u.chunk, u.members from identity.token_rollup_users u
                   where k = nn + 1 and u.client_id is null and u.audience = aud and u.grain = 'w' and u.bucket = any(weeks) and not u.all_clients) s
           group by s.chunk
        ) m on m.chunk = c.c
       order by c.c);
    b := chunks[1];
    for c in 2 .. nch loop
      b := b || chunks[c];
    end loop;

    -- users of the other pieces not in the bitmaps: a client's (or, for one audience, all clients') hour
    -- lists, and the raw remainders
    select count(*) into extra
      from (select distinct z.ord
              from (select (v >> 32)::integer as ord
                      from identity.token_rollup r cross join lateral unnest(r.all_list) v
                     where k > 0 and kc is not null and r.client_id = kc and r.audience = aud and r.grain = 'h' and r.bucket = any(hours)
                       and not r.all_clients
                    union all
                    select (v >> 32)::integer
                      from identity.token_rollup r cross join lateral unnest(r.all_list) v
                     where k = nn + 1 and r.client_id is null and r.audience = aud and r.grain = 'h' and r.bucket = any(hours) and not r.all_clients
                    union all
                    select (v >> 32)::integer
                      from identity.token_rollup r cross join lateral unnest(r.all_list) v
                     where k = 0 and aud <> '*' and r.audience = aud and r.grain = 'h' and r.bucket = any(hours) and r.all_clients
                    union all
                    select x.o from unnest(r_ord[r_first[k + 1]:r_first[k + 1] + r_count[k + 1] - 1]) x(o)) z
             where z.ord >= nch * 65536 or get_bit(b, z.ord) = 0) q;

    all_clients := k = 0;
    client_id := kc;
    users := bit_count(b) + extra + coalesce((select count(distinct x.u) from unnest(u_kix, u_uid) x(kk, u) where x.kk = k), 0);
    return next;
  end loop;
end
$fn$;

-- Exact number of distinct users with token events in [p_start, p_end) (see token_unique_counts).
-- One row for the filter (p_client_id, or all clients), or, with p_clients, one row per listed client; with
-- p_audience, that audience's users only ('' the provider's default). Called by: get_token_stats. Read-only.
create function identity.token_unique_users(
  p_start timestamptz, p_end timestamptz, p_client_id text default null, p_user_id uuid default null, p_clients text[] default null,
  p_audience text default null
)
returns table (client_id text, users bigint)
language sql stable rows 10 as $fn$
  select u.client_id, u.users
    from identity.token_unique_counts(p_start, p_end, p_user_id, p_clients is null and p_client_id is null,
                                      case when p_clients is not null then p_clients
                                           when p_client_id is not null then array[p_client_id] end, p_audience) u
$fn$;

-- The p_limit users with the most tokens issued in [p_start, p_end) (ties: smaller user id first), exact.
-- A threshold pass over the per-block top-k lists (plus the raw remainders) settles it when usage is skewed,
-- with look-ups in the blocks' complete lists for the few candidates; otherwise the complete lists are summed.
-- p_audience: tokens of that audience only ('' the provider's default). Called by: token_dashboard. Read-only.
create function identity.token_top_users(
  p_start timestamptz, p_end timestamptz, p_client_id text default null, p_user_id uuid default null, p_limit integer default 10,
  p_audience text default null
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
  aud text := coalesce(p_audience, '*');
begin
  if p_limit <= 0 then return; end if;
  if p_user_id is not null then
    return query
    select l.user_id, count(*)::bigint from identity.audit_logs l
     where l.user_id = p_user_id and l.created_at >= p_start and l.created_at < p_end and l.action like 'token.issued.%'
       and (p_client_id is null or l.client_id = p_client_id)
       and (p_audience is null or identity.token_audience(l.audience) = p_audience)
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
        select r.top_list, r.top_tail from identity.token_rollup r
         where p_client_id is null and r.grain = x.g and r.bucket = x.t and r.all_clients and r.audience = aud
        union all
        select r.top_list, r.top_tail from identity.token_rollup r
         where p_client_id is not null and r.grain = x.g and r.bucket = x.t and not r.all_clients and r.client_id = p_client_id and r.audience = aud
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
      cross join lateral (select l.user_id, l.action, l.client_id, l.audience from identity.audit_logs l
                           where l.created_at >= w.lo and l.created_at < w.hi offset 0
      ) l
     where l.user_id is not null and l.action like 'token.issued.%' and (p_client_id is null or l.client_id = p_client_id)
       and (p_audience is null or identity.token_audience(l.audience) = p_audience)
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
          select r.all_list from identity.token_rollup r
           where p_client_id is null and r.grain = x.g and r.bucket = x.t and r.all_clients and r.audience = aud
          union all
          select r.all_list from identity.token_rollup r
           where p_client_id is not null and r.grain = x.g and r.bucket = x.t and not r.all_clients and r.client_id = p_client_id
             and r.audience = aud
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
        cross join lateral (select l.user_id, l.action, l.client_id, l.audience from identity.audit_logs l
                             where l.created_at >= w.lo and l.created_at < w.hi offset 0
      ) l
       where l.user_id is not null and l.action like 'token.issued.%' and (p_client_id is null or l.client_id = p_client_id)
         and (p_audience is null or identity.token_audience(l.audience) = p_audience)
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
                     from identity.token_rollup r
                    where p_client_id is null and r.grain = x.g and r.bucket = x.t and r.all_clients and r.audience = aud
                   union all
                   select array(select (t.v >> 32)::integer from unnest(r.top_list) t(v)), r.top_tail, r.all_list
                     from identity.token_rollup r
                    where p_client_id is not null and r.grain = x.g and r.bucket = x.t and not r.all_clients and r.client_id = p_client_id
                      and r.audience = aud
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
-- per quarter hour (unless p_raw is false). Sealed blocks come from index-only range scans (events only).
-- p_audience: that audience's events only ('' the provider's default). Called by: token_dashboard. Read-only.
create function identity.token_heat(
  p_start timestamptz, p_end timestamptz, p_client_id text, p_user_id uuid, p_grain text, p_raw boolean default true,
  p_audience text default null
)
returns table (bucket timestamptz, events bigint)
language plpgsql stable rows 2500 set jit = off set work_mem = '64MB' as $fn$
#variable_conflict use_column
declare
  aud text := coalesce(p_audience, '*');
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
         where p_client_id is null and r.all_clients and r.audience = aud and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
        union all
        select r.bucket, r.events from identity.token_rollup r
         where p_client_id is not null and not r.all_clients and r.client_id = p_client_id and r.audience = aud
           and r.grain = runs.grain and r.bucket >= runs.lo and r.bucket <= runs.hi
      ) fenced offset 0
    ) r
  union all
  select x.q, sum(x.n)::bigint
    from rw cross join lateral identity.token_cells(rw.lo, rw.hi, p_client_id, p_user_id, p_audience) x
   where p_raw and rw.lo is not null
   group by x.q;
end
$fn$;

-- [p_start, p_end) narrowed to where data (raw or rolled up) exists; s >= e when there is none.
-- Called by: token_dashboard, get_token_stats. Read-only.
create function identity.token_clamp(p_start timestamptz, p_end timestamptz, out s timestamptz, out e timestamptz)
language sql stable as $fn$
  select greatest(p_start, least(coalesce((select min(r.bucket) from identity.token_rollup r where r.grain = 'd'), 'infinity'),
                                 coalesce((select min(r.bucket) from identity.token_rollup r where r.grain = 'h'), 'infinity'),
                                 coalesce((select min(l.created_at) from identity.audit_logs l), 'infinity'))),
         least(p_end, greatest(coalesce((select max(l.created_at) from identity.audit_logs l) + interval '1 microsecond', '-infinity'),
                               coalesce((select max(r.bucket) from identity.token_rollup r where r.grain = 'h') + interval '1 hour', '-infinity')))
$fn$;
