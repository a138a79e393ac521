-- Token analytics: computing rollups from raw rows. Helpers (timestamp parsing, lock keys, the clock), the
-- cells of raw events (used both to seal an hour and to read the unsealed remainders of a range), and the
-- writers of an hour's, a day's and a week's rollups.

-- A timestamp as the app writes it (Date.prototype.toISOString: 2026-01-31T23:59:59.999Z), else null. Cheap:
-- it is inlined, and raises when a string of that shape is not a valid timestamp (e.g. 2026-02-30T...):
-- callers then recompute with token_ts_safe, which returns null for those instead.
-- Called by: token_cells_query, token_rollup_write_hour (through token_ts(v, safe)). Pure.
create function identity.token_ts(v text) returns timestamptz
language sql stable parallel safe as $$
  select case when v like '____-__-__T__:__:__.___Z' then v::timestamptz end
$$;

-- token_ts that never raises: null for a malformed timestamp (the slow path, taken only after token_ts raised).
-- Called by: token_ts(v, safe). Pure.
create function identity.token_ts_safe(v text) returns timestamptz
language plpgsql stable parallel safe as $fn$
begin
  return identity.token_ts(v);
exception when others then
  return null;
end
$fn$;

-- token_ts or token_ts_safe, as the caller's pass chose (p_safe: the retry after a data_exception).
-- Called by: token_cells_query, token_rollup_write_hour. Pure.
create function identity.token_ts(v text, safe boolean) returns timestamptz
language sql stable parallel safe as $$
  select case when safe then identity.token_ts_safe(v) else identity.token_ts(v) end
$$;

-- An interval in whole microseconds (lifetimes are summed as bigint microseconds in the rollups).
-- Called by: token_cells_query, token_rollup_write_hour. Pure.
create function identity.token_us(i interval) returns bigint
language sql immutable parallel safe as $$ select (extract(epoch from i) * 1000000)::bigint $$;

-- The advisory-lock key of a UTC hour (hours since the epoch), with class 726201. Stable, like the
-- extract(epoch from timestamptz) it uses, so that it is inlined (an immutable SQL function over a stable
-- expression is never inlined and would be planned on every call).
-- Called by: token_rollup_on_insert (shared lock), token_rollup_advance (exclusive try-lock).
create function identity.token_hour_key(h timestamptz) returns integer
language sql stable parallel safe as $$ select floor(extract(epoch from h) / 3600)::integer $$;

-- The advisory-lock key of a UTC day (days since the epoch), with class 726202; stable for the same reason
-- as token_hour_key. Called by: token_rollup_on_insert (shared lock), token_rollup_close_day (try-lock).
create function identity.token_day_key(d timestamptz) returns integer
language sql stable parallel safe as $$ select floor(extract(epoch from d) / 86400)::integer $$;

-- "Now" for sealing: now(), unless the session sets identity.analytics_clock (tests and the write benchmark
-- replay hours of traffic in minutes with it; never set by the app).
-- Called by: token_rollup_advance, token_rollup_on_insert, token_rollup_seal_background.
create function identity.token_clock() returns timestamptz
language sql stable parallel safe as $$
  select coalesce(nullif(current_setting('identity.analytics_clock', true), '')::timestamptz, now())
$$;

-- An event's audience as the rollups key it: '' for the provider's default audience (null), else the stored
-- identifier. ('*' stands for every audience in the rollups: an event claiming it, which the audit writer never
-- writes, is counted under the default audience.)
-- Called by: token_cells_query, token_rollup_write_hour, token_unique_counts, token_top_users. Pure.
create function identity.token_audience(a text) returns text
language sql immutable parallel safe as $$
  select case when a is null or a = '*' then '' else a end
$$;

-- The failed token requests (one event per failed request; details->>'reason' is the RFC error code).
-- Called by: token_cells_query, token_rollup_write_hour, and the data package (the recent-activity filter). Pure.
create function identity.token_is_failure(action text) returns boolean
language sql immutable parallel safe as $$
  select action in ('token.validation_failed', 'token.pkce_failed', 'token.code_invalid', 'token.code_replayed',
                    'token.refresh_reused', 'token.expired', 'client.auth_failed')
$$;

-- The cells of raw token events (action like 'token.%', and client.auth_failed) in the intervals
-- [p_starts[i], p_ends[i]): one row per (interval, quarter hour, client, action, grant, failure reason), and
-- per user with p_by_user, per audience with p_by_audience, with the counts of identity.token_cell; with
-- p_audience only the events of that audience ('' the default one, see token_audience). One narrow row per event first (each
-- detail read and each timestamp parsed once), grouped after; revoked access tokens whose event does not say
-- when they were issued get it from the issuing event, by jti, within revocation_lookback before their hour
-- (extra cells with n = 0: consumers sum the cells). With p_user_id the rows come through the user index.
-- p_safe: parse timestamps with token_ts_safe (the retry after a data_exception).
-- Called by: token_cells. Read-only.
create function identity.token_cells_query(
  p_starts timestamptz[], p_ends timestamptz[], p_client_id text, p_user_id uuid, p_safe boolean, p_by_user boolean default false,
  p_audience text default null, p_by_audience boolean default false
)
returns setof identity.token_cell
language plpgsql stable rows 500 set jit = off set work_mem = '64MB' as $fn$
begin
  return query
  with iv as (
    select u.i::integer as idx, u.a, u.b from unnest(p_starts, p_ends) with ordinality u(a, b, i) where u.a < u.b
  ),
  -- one narrow row per event (fenced lateral: one index range scan per interval, whatever plan is cached)
  r as materialized (
    select e.idx, e.created_at, date_bin('15 minutes', e.created_at, timestamptz '2000-01-01 00:00:00+00') as q, e.client_id,
           case when p_by_user then e.user_id end as user_id, e.action, e.grant_type,
           case when e.fail then coalesce(e.details->>'reason', 'unknown') end as reason,
           case when p_by_audience then identity.token_audience(e.audience) end as audience,
           e.iss and e.details->>'refresh_token_expires_at' is not null as rt,
           case when e.iss then identity.token_ts(e.details->>'expires_at', p_safe) - e.iat end as life,
           case when e.action = 'token.refreshed' then e.created_at - identity.token_ts(e.details->>'previous_issued_at', p_safe)
                when e.action = 'token.revoked' then e.created_at - e.iat end as ended,
           -- revoked access tokens that do not say when they were issued: looked up by jti below
           case when e.action = 'token.revoked' and e.iat is null and e.details->>'token_type' = 'access_token'
                then e.details->>'jti' end as rjti
      from (select iv.idx, l.created_at, l.action, l.client_id, l.user_id, l.grant_type, l.details, l.audience,
                   l.action like 'token.issued.%' as iss, identity.token_is_failure(l.action) as fail,
                   case when l.action like 'token.issued.%' or l.action = 'token.revoked'
                        then identity.token_ts(l.details->>'issued_at', p_safe) end as iat
              from iv cross join lateral (
                select * from (
                  select l.created_at, l.action, l.client_id, l.user_id, l.grant_type, l.details, l.audience
                    from identity.audit_logs l
                   where p_user_id is null and l.created_at >= iv.a and l.created_at < iv.b
                     and (l.action like 'token.%' or l.action = 'client.auth_failed') and (p_client_id is null or l.client_id = p_client_id)
                     and (p_audience is null or identity.token_audience(l.audience) = p_audience)
                  union all
                  select l.created_at, l.action, l.client_id, l.user_id, l.grant_type, l.details, l.audience
                    from identity.audit_logs l
                   where p_user_id is not null and l.user_id = p_user_id and l.created_at >= iv.a and l.created_at < iv.b
                     and (l.action like 'token.%' or l.action = 'client.auth_failed') and (p_client_id is null or l.client_id = p_client_id)
                     and (p_audience is null or identity.token_audience(l.audience) = p_audience)
                ) x offset 0
              ) l
            offset 0) e
  ),
  main as (
    select r.idx, r.q, r.client_id, r.user_id, r.action, r.grant_type, r.reason, r.audience, count(*) as n, count(*) filter (where r.rt) as rt,
           identity.token_us(sum(r.life)) as life_us, count(r.life) as life_n, identity.token_us(sum(r.ended)) as ended_us, count(r.ended) as ended_n
      from r
     group by 1, 2, 3, 4, 5, 6, 7, 8
  ),
  rv as (
    select r.idx, r.created_at, r.client_id, r.user_id, r.grant_type, r.audience, r.rjti as jti,
           date_bin('1 hour', r.created_at, timestamptz '2000-01-01 00:00:00+00') as h
      from r where r.rjti is not null
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
         coalesce(m.ended_us, 0)::bigint, m.ended_n, m.audience
    from main m
  union all
  select rv.idx, date_bin('15 minutes', rv.created_at, timestamptz '2000-01-01 00:00:00+00'), rv.client_id, rv.user_id, 'token.revoked',
         rv.grant_type, null, 0, 0, 0, 0, sum(identity.token_us(rv.created_at - h.issued_at))::bigint, count(*), rv.audience
    from rv join hits h on h.jti = rv.jti and h.h = rv.h
   group by 1, 2, 3, 4, 5, 6, rv.audience;
end
$fn$;

-- token_cells_query with the cheap timestamp parser, or again with the safe one if a detail is malformed.
-- Called by: token_blocks, token_heat, token_dashboard (the raw remainders of a range). Read-only.
create function identity.token_cells(
  p_starts timestamptz[], p_ends timestamptz[], p_client_id text default null, p_user_id uuid default null,
  p_audience text default null, p_by_audience boolean default false
)
returns setof identity.token_cell
language plpgsql stable rows 500 set jit = off set work_mem = '64MB' as $fn$
declare
  res identity.token_cell[];
begin
  begin
    select array_agg(c) into res
      from identity.token_cells_query(p_starts, p_ends, p_client_id, p_user_id, false, false, p_audience, p_by_audience) c;
  exception when data_exception then
    select array_agg(c) into res
      from identity.token_cells_query(p_starts, p_ends, p_client_id, p_user_id, true, false, p_audience, p_by_audience) c;
  end;
  return query select * from unnest(res);
end
$fn$;

-- Writes every rollup of one UTC hour from its raw rows: one pass over the hour into narrow rows, then the
-- token_rollup rows per quarter and hour (all clients and per client, each for every audience and per
-- audience; failures by reason, actions by grant (per client, every audience), lifetimes, the per-user top
-- and complete lists), ordinals for users seen for the first time, and the hour's all-clients user bitmap. Plans for hash joins and hash aggregation with a generic plan: a month's
-- new partition has "empty" statistics for a while, from which the planner would loop or sort.
-- Called by: token_rollup_seal_hour only (which deletes the hour's old rows first).
-- Concurrency: under the caller's exclusive lock on the hour; new ordinals are taken with
-- insert ... on conflict, so two sealers of different hours never give a user two ordinals.
create function identity.token_rollup_write_hour(p_hour timestamptz, p_safe boolean) returns void
language plpgsql set jit = off set work_mem = '64MB' set enable_nestloop = off set enable_sort = off set plan_cache_mode = force_generic_plan as $fn$
declare
  k integer;
  lb interval;
  h1 timestamptz := p_hour + interval '1 hour';
begin
  select s.top_k, s.revocation_lookback into k, lb from identity.token_rollup_state s;

  with
  -- the hour's token events, one narrow row each (fenced: each expression evaluated once per row)
  r as materialized (
    select e.id, e.created_at, e.q, e.client_id, e.user_id, e.action, e.grant_type, e.iss, identity.token_audience(e.audience) as aud,
           case when e.fail then coalesce(e.details->>'reason', 'unknown') end as reason,
           e.iss and e.details->>'refresh_token_expires_at' is not null as rt,
           case when e.iss then identity.token_ts(e.details->>'expires_at', p_safe) - e.iat end as life,
           case when e.action = 'token.refreshed' then e.created_at - identity.token_ts(e.details->>'previous_issued_at', p_safe)
                when e.action = 'token.revoked' then e.created_at - e.iat end as ended,
           -- issued: the token's jti and issue time (for revocations looking it up)
           case when e.iss then e.details->>'jti' end as jti, e.iat,
           -- revoked access tokens that do not say when they were issued: looked up by jti
           case when e.action = 'token.revoked' and e.iat is null and e.details->>'token_type' = 'access_token'
                then e.details->>'jti' end as rjti
      from (select l.id, l.created_at, date_bin('15 minutes', l.created_at, timestamptz '2000-01-01 00:00:00+00') as q,
                   l.client_id, l.user_id, l.action, l.grant_type, l.details, l.audience,
                   l.action like 'token.issued.%' as iss, identity.token_is_failure(l.action) as fail,
                   case when l.action like 'token.issued.%' or l.action = 'token.revoked'
                        then identity.token_ts(l.details->>'issued_at', p_safe) end as iat
              from identity.audit_logs l
             where l.created_at >= p_hour and l.created_at < h1 and (l.action like 'token.%' or l.action = 'client.auth_failed')
             order by l.created_at offset 0) e
  ),
  -- the issuing event of each such jti: the latest within revocation_lookback before the hour and the hour
  hits as (
    select distinct on (w.jti) w.jti, coalesce(w.iat, identity.token_ts(w.iat_text, p_safe), w.created_at) as iat
      from (select r.jti, r.created_at, r.id, r.iat, null::text as iat_text from r where r.jti is not null and r.created_at >= p_hour - lb
            union all
            (select i.details->>'jti', i.created_at, i.id, null, i.details->>'issued_at'
               from identity.audit_logs i
              where i.created_at >= p_hour - lb and i.created_at < p_hour and i.action like 'token.issued.%'
              order by i.created_at)) w
     where w.jti in (select r.rjti from r where r.rjti is not null)
     order by w.jti, w.created_at desc, w.id desc
  ),
  -- counts per (quarter, client, audience, action, grant, reason); integers, so that the sums below stay in int8
  c as materialized (
    select r.q, r.client_id, r.aud, r.action, r.grant_type, r.reason, count(*)::integer as n,
           (count(*) filter (where r.rt))::integer as rti, sum(r.life) as life, count(r.life)::integer as life_n,
           sum(coalesce(r.ended, r.created_at - h.iat)) as ended, count(coalesce(r.ended, r.created_at - h.iat))::integer as ended_n
      from r left join hits h on h.jti = r.rjti
     group by 1, 2, 3, 4, 5, 6
  ),
  qc as (
    select c.q, c.client_id, c.aud, sum(c.n)::integer as events,
           coalesce(sum(c.n) filter (where c.action like 'token.issued.%'), 0)::integer as issued,
           coalesce(sum(c.n) filter (where c.action = 'token.issued.authorization_code'), 0)::integer as iac,
           coalesce(sum(c.n) filter (where c.action = 'token.issued.refresh_token'), 0)::integer as irt,
           coalesce(sum(c.n) filter (where c.action = 'token.issued.client_credentials'), 0)::integer as icc,
           sum(c.rti)::integer as rti,
           coalesce(sum(c.n) filter (where c.action = 'token.refreshed'), 0)::integer as refreshed,
           coalesce(sum(c.n) filter (where c.reason is not null), 0)::integer as failed,
           coalesce(sum(c.n) filter (where c.action = 'token.userinfo_accessed'), 0)::integer as userinfo,
           coalesce(sum(c.n) filter (where c.action = 'token.revoked'), 0)::integer as revoked,
           coalesce(sum(c.n) filter (where c.action = 'token.introspected'), 0)::integer as introspected,
           sum(c.life) as life, sum(c.life_n)::integer as life_n, sum(c.ended) as ended, sum(c.ended_n)::integer as ended_n
      from c group by c.q, c.client_id, c.aud
  ),
  -- quarters per client and audience, then rolled up: quarters of all clients, the hour per client and of all
  -- clients, each for every audience and per audience (kq, kc, kn, ka: the row's key, hashable: client_id is
  -- null both for all clients and for no client; ka is the stored audience, '*' for every audience)
  g as materialized (
    select grouping(qc.q) as gq, grouping(qc.client_id) as gc, qc.q, qc.client_id,
           coalesce(qc.q, p_hour) as kq, coalesce(qc.client_id, '') as kc, qc.client_id is null as kn, coalesce(qc.aud, '*') as ka,
           sum(qc.events) as events, sum(qc.issued) as issued, sum(qc.iac) as iac, sum(qc.irt) as irt, sum(qc.icc) as icc,
           sum(qc.rti) as rti, sum(qc.refreshed) as refreshed, sum(qc.failed) as failed, sum(qc.userinfo) as userinfo,
           sum(qc.revoked) as revoked, sum(qc.introspected) as introspected,
           coalesce(identity.token_us(sum(qc.life)), 0) as life_us, sum(qc.life_n) as life_n,
           coalesce(identity.token_us(sum(qc.ended)), 0) as ended_us, sum(qc.ended_n) as ended_n
      from qc
     group by grouping sets ((qc.q, qc.client_id), (qc.q), (qc.client_id), (),
                             (qc.q, qc.client_id, qc.aud), (qc.q, qc.aud), (qc.client_id, qc.aud), (qc.aud))
    having count(*) > 0
  ),
  f as materialized (
    select x.gq, x.gc, coalesce(x.q, p_hour) as kq, coalesce(x.client_id, '') as kc, x.client_id is null as kn, coalesce(x.aud, '*') as ka,
           jsonb_object_agg(x.reason, x.n) as m
      from (select grouping(c.q) as gq, grouping(c.client_id) as gc, grouping(c.aud) as ga, c.q, c.client_id, c.aud, c.reason, sum(c.n) as n
              from c where c.reason is not null
             group by grouping sets ((c.q, c.client_id, c.reason), (c.q, c.reason), (c.client_id, c.reason), (c.reason),
                                     (c.q, c.client_id, c.aud, c.reason), (c.q, c.aud, c.reason), (c.client_id, c.aud, c.reason), (c.aud, c.reason))) x
     group by x.gq, x.gc, x.ga, x.q, x.client_id, x.aud
  ),
  a as materialized (
    select coalesce(x.client_id, '') as kc, x.client_id is null as kn,
           jsonb_agg(jsonb_build_array(x.action, x.grant_type, x.n) order by x.action, x.grant_type) as m
      from (select c.client_id, c.action, c.grant_type, sum(c.n) as n from c where c.action like 'token.%' group by 1, 2, 3 offset 0) x
     group by x.client_id
  ),
  -- users: their ordinals (one index scan over the hour's distinct users), new ones for those seen for the first time
  known as materialized (
    select o.user_id, o.ordinal from identity.token_user_ordinals o
     where o.user_id = any(array(select distinct r.user_id from r where r.user_id is not null))
  ),
  ru as materialized (
    select r.client_id, r.aud, r.user_id, r.iss, kn.ordinal from r left join known kn on kn.user_id = r.user_id where r.user_id is not null
  ),
  fresh as (
    insert into identity.token_user_ordinals (user_id)
    select distinct ru.user_id from ru where ru.ordinal is null
    on conflict (user_id) do update set user_id = excluded.user_id
    returning user_id, ordinal
  ),
  -- token events and tokens issued per (client, user) and per user (all clients), for every audience and per audience
  uo as materialized (
    select grouping(x.client_id) = 1 as all_clients, x.client_id, coalesce(x.aud, '*') as ka, x.o, (count(*) filter (where x.iss))::integer as iss
      from (select ru.client_id, ru.aud, coalesce(ru.ordinal, fr.ordinal) as o, ru.iss from ru left join fresh fr on fr.user_id = ru.user_id) x
     group by grouping sets ((x.client_id, x.o), (x.o), (x.client_id, x.aud, x.o), (x.aud, x.o))
  ),
  -- the hour's users, all clients, as bitmaps (identity.token_bitmaps inline: planned once per session, not per call)
  bits as (
    insert into identity.token_rollup_users (grain, bucket, all_clients, client_id, chunk, members)
    select 'h', p_hour, true, null, z.chunk,
           ('x' || string_agg(repeat('0000000000000000', z.w - z.prev - 1) || lpad(to_hex(z.v), 16, '0'), '' order by z.w)
                || repeat('0000000000000000', 1023 - max(z.w)))::bit varying
      from (select y.chunk, y.w, y.v, lag(y.w, 1, -1) over (partition by y.chunk order by y.w) as prev
              from (select uo.o >> 16 as chunk, (uo.o & 65535) >> 6 as w, bit_or(1::bigint << (63 - (uo.o & 63))) as v
                      from uo where uo.all_clients and uo.ka = '*' group by 1, 2) y) z
     group by z.chunk
  ),
  -- the hour's lists, per client and for all clients, each sorted as one int8 (a datum sort): all: ordinal << 32 |
  -- count, by ordinal; top: (2^31 - 1 - count) << 32 | ordinal, which sorts by count desc, ordinal, of which the
  -- first top_k + 1 are turned into the stored form, ordinal << 32 | count
  lists as materialized (
    select y.all_clients, y.kc, y.kn, y.ka, y.alls,
           (select array_agg(((t.v & 4294967295) << 32) | (2147483647 - (t.v >> 32)) order by t.i)
              from unnest(y.top[1:k + 1]) with ordinality t(v, i)) as top
      from (select x.all_clients, coalesce(x.client_id, '') as kc, x.client_id is null as kn, x.ka,
                   array_agg(x.tk order by x.tk) filter (where x.iss > 0) as top, array_agg(x.pk order by x.pk) as alls
              from (select uo.all_clients, uo.client_id, uo.ka, uo.iss, ((2147483647 - uo.iss)::bigint << 32) | uo.o as tk,
                           (uo.o::bigint << 32) | uo.iss as pk
                      from uo) x
             group by x.all_clients, x.client_id, x.ka) y
  )
  insert into identity.token_rollup (
    grain, bucket, all_clients, client_id, events, issued, issued_authorization_code, issued_refresh_token,
    issued_client_credentials, refresh_tokens_issued, refreshed, failed, userinfo, revoked, introspected,
    lifetime_us, lifetime_n, ended_us, ended_n, failures, actions, top_list, top_tail, all_list, audience
  )
  select case when g.gq = 1 then 'h' else 'q' end, g.kq, g.gc = 1, g.client_id,
         g.events, g.issued, g.iac, g.irt, g.icc, g.rti, g.refreshed, g.failed, g.userinfo, g.revoked, g.introspected,
         g.life_us, g.life_n, g.ended_us, g.ended_n, f.m, a.m,
         l.top[1:k], case when g.gq = 1 then coalesce((l.top[k + 1] & 4294967295)::integer, 0) end, l.alls, g.ka
    from g
    left join f on f.gq = g.gq and f.gc = g.gc and f.kq = g.kq and f.kc = g.kc and f.kn = g.kn and f.ka = g.ka
    left join a on g.gq = 1 and g.gc = 0 and g.ka = '*' and a.kc = g.kc and a.kn = g.kn
    left join lists l on g.gq = 1 and l.all_clients = (g.gc = 1) and l.kc = g.kc and l.kn = g.kn and l.ka = g.ka;
end
$fn$;

-- Builds a UTC day's rollups from its 24 sealed hours: sums of the hour rows, merged failure and action
-- maps, the day's user lists, per-client and per-audience bitmaps from the hours' lists, the all-clients
-- bitmap (every audience) as the OR of the hour bitmaps. Called by: token_rollup_close_day, under the day's lock.
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
    select h.all_clients, h.client_id, h.audience,
           sum(h.events) as events, sum(h.issued) as issued, sum(h.issued_authorization_code) as iac,
           sum(h.issued_refresh_token) as irt, sum(h.issued_client_credentials) as icc, sum(h.refresh_tokens_issued) as rti,
           sum(h.refreshed) as refreshed, sum(h.failed) as failed, sum(h.userinfo) as userinfo, sum(h.revoked) as revoked,
           sum(h.introspected) as introspected, sum(h.lifetime_us) as lus, sum(h.lifetime_n) as ln, sum(h.ended_us) as eus,
           sum(h.ended_n) as en
      from h group by h.all_clients, h.client_id, h.audience
  ),
  f as materialized (
    select y.all_clients, y.client_id, y.audience, jsonb_object_agg(y.key, y.n) as m
      from (select h.all_clients, h.client_id, h.audience, e.key, sum(e.value::bigint) as n
              from h cross join lateral jsonb_each_text(h.failures) e group by 1, 2, 3, 4) y
     group by y.all_clients, y.client_id, y.audience
  ),
  a as materialized (
    select y.client_id, jsonb_agg(jsonb_build_array(y.action, y.grant_type, y.n) order by y.action, y.grant_type) as m
      from (select h.client_id, e->>0 as action, e->>1 as grant_type, sum((e->>2)::bigint) as n
              from h cross join lateral jsonb_array_elements(h.actions) e where not h.all_clients and h.audience = '*' group by 1, 2, 3) y
     group by y.client_id
  ),
  ul as materialized (
    select h.all_clients, h.client_id, h.audience, (t.v >> 32)::integer as o, sum(t.v & 4294967295)::bigint as n
      from h cross join lateral unnest(h.all_list) t(v) group by 1, 2, 3, 4
  ),
  u as materialized (
    select ul.all_clients, ul.client_id, ul.audience,
           array_agg((ul.o::bigint << 32) | ul.n order by ul.n desc, ul.o) filter (where ul.n > 0) as top,
           array_agg((ul.o::bigint << 32) | ul.n order by ul.o) as alls
      from ul group by ul.all_clients, ul.client_id, ul.audience
  ),
  -- per-client and per-audience bitmaps of the day, all in one pass
  cb as (
    insert into identity.token_rollup_users (grain, bucket, all_clients, client_id, audience, chunk, members)
    select 'd', p_day, z.all_clients, z.client_id, z.audience, z.chunk,
           ('x' || string_agg(repeat('0000000000000000', z.w - z.prev - 1) || lpad(to_hex(z.v), 16, '0'), '' order by z.w)
                || repeat('0000000000000000', 1023 - max(z.w)))::bit varying
      from (select y.all_clients, y.client_id, y.audience, y.chunk, y.w, y.v,
                   lag(y.w, 1, -1) over (partition by y.all_clients, y.client_id, y.audience, y.chunk order by y.w) as prev
              from (select ul.all_clients, ul.client_id, ul.audience, ul.o >> 16 as chunk, (ul.o & 65535) >> 6 as w,
                           bit_or(1::bigint << (63 - (ul.o & 63))) as v
                      from ul where not ul.all_clients or ul.audience <> '*' group by 1, 2, 3, 4, 5) y) z
     group by z.all_clients, z.client_id, z.audience, z.chunk
  )
  insert into identity.token_rollup (
    grain, bucket, all_clients, client_id, events, issued, issued_authorization_code, issued_refresh_token,
    issued_client_credentials, refresh_tokens_issued, refreshed, failed, userinfo, revoked, introspected,
    lifetime_us, lifetime_n, ended_us, ended_n, failures, actions, top_list, top_tail, all_list, audience
  )
  select 'd', p_day, s.all_clients, s.client_id, s.events, s.issued, s.iac, s.irt, s.icc, s.rti, s.refreshed, s.failed,
         s.userinfo, s.revoked, s.introspected, s.lus, s.ln, s.eus, s.en, f.m, a.m,
         u.top[1:k], coalesce((u.top[k + 1] & 4294967295)::integer, 0), u.alls, s.audience
    from s
    left join f on f.all_clients = s.all_clients and f.client_id is not distinct from s.client_id and f.audience = s.audience
    left join a on not s.all_clients and s.audience = '*' and a.client_id is not distinct from s.client_id
    left join u on u.all_clients = s.all_clients and u.client_id is not distinct from s.client_id and u.audience = s.audience;

  -- all clients, every audience: OR of the hours (the others: above, from the hours' lists)
  insert into identity.token_rollup_users (grain, bucket, all_clients, client_id, chunk, members)
  select 'd', p_day, true, null, u.chunk, bit_or(u.members)
    from identity.token_rollup_users u
   where u.grain = 'h' and u.bucket >= p_day and u.bucket < d1 and u.all_clients and u.audience = '*'
   group by u.chunk;
end
$fn$;

-- Builds a week's user bitmaps (grain 'w', bucket Monday 00:00 UTC) as the OR of its 7 day bitmaps, for
-- all clients and per client, for every audience and per audience; only when the whole week is below the watermark and none of its hours or days
-- is dirty (a reader uses a week only then, so a week is never read stale). Otherwise just deletes it.
-- Called by: token_rollup_close_day, whenever one of the week's days was (re)built.
create function identity.token_rollup_build_week(p_week timestamptz) returns void
language plpgsql set jit = off set work_mem = '64MB' as $fn$
begin
  delete from identity.token_rollup_users u where u.grain = 'w' and u.bucket = p_week;
  if p_week + interval '7 days' <= (select coalesce(s.watermark, '-infinity'::timestamptz) from identity.token_rollup_state s)
     and not exists (select 1 from identity.token_rollup_dirty x
                      where x.grain in ('h', 'd') and x.bucket >= p_week and x.bucket < p_week + interval '7 days') then
    insert into identity.token_rollup_users (grain, bucket, all_clients, client_id, audience, chunk, members)
    select 'w', p_week, u.all_clients, u.client_id, u.audience, u.chunk, bit_or(u.members)
      from identity.token_rollup_users u
     where u.grain = 'd' and u.bucket >= p_week and u.bucket < p_week + interval '7 days'
     group by u.all_clients, u.client_id, u.audience, u.chunk;
  end if;
end
$fn$;
