-- Token analytics "by API" (issue 14): issued-token events carry their audience (RFC 8707 resource), and the
-- rollups count every block per audience as well, so the dashboard's "by API" breakdown and its audience
-- filter are exact and served from sealed rollups like the per-client ones. Nothing changes for the rows,
-- names and results that exist: the rollups' new dimension is '*' (every audience) for all of them.
--
-- Every event written before this migration has no audience, so the rollups sealed before it get their
-- per-audience rows here as copies of their every-audience rows, for the default audience (''): what sealing
-- would write (actions stay on the every-audience rows only), no rebuild needed.

-- the audit trail: the audience column (nullable, no default: no rewrite of the partitions) and the
-- recent-activity index for an API filter (only events that name one)
alter table identity.audit_logs add column audience text collate "C";
create index audit_logs_audience_idx on identity.audit_logs (audience, created_at desc, id desc) where audience is not null;

-- the rollups: every existing row covers every audience ('*')
alter table identity.token_rollup add column audience text collate "C" not null default '*';
drop index identity.token_rollup_key;
drop index identity.token_rollup_all_clients_idx;
drop index identity.token_rollup_client_events_idx;
create unique index token_rollup_key on identity.token_rollup (grain, bucket, all_clients, client_id, audience) nulls not distinct;
create index token_rollup_all_clients_idx on identity.token_rollup (audience, grain, bucket) include (events) where all_clients;
create index token_rollup_client_events_idx on identity.token_rollup (client_id, audience, grain, bucket) include (events) where not all_clients;
create index token_rollup_audiences_idx on identity.token_rollup (grain, bucket) where all_clients and audience <> '*';

alter table identity.token_rollup_users add column audience text collate "C" not null default '*';
drop index identity.token_rollup_users_key;
drop index identity.token_rollup_users_client_idx;
create unique index token_rollup_users_key on identity.token_rollup_users (grain, bucket, all_clients, client_id, audience, chunk) nulls not distinct;
create index token_rollup_users_client_idx on identity.token_rollup_users (client_id, audience, grain, bucket) where not all_clients;

insert into identity.token_rollup (
  grain, bucket, all_clients, client_id, events, issued, issued_authorization_code, issued_refresh_token,
  issued_client_credentials, refresh_tokens_issued, refreshed, failed, userinfo, revoked, introspected,
  lifetime_us, lifetime_n, ended_us, ended_n, failures, actions, top_list, top_tail, all_list, audience
)
select grain, bucket, all_clients, client_id, events, issued, issued_authorization_code, issued_refresh_token,
       issued_client_credentials, refresh_tokens_issued, refreshed, failed, userinfo, revoked, introspected,
       lifetime_us, lifetime_n, ended_us, ended_n, failures, null, top_list, top_tail, all_list, ''
  from identity.token_rollup where audience = '*';
-- day and week bitmaps (an audience's hours are read from its hour lists, as a client's)
insert into identity.token_rollup_users (grain, bucket, all_clients, client_id, chunk, members, audience)
select grain, bucket, all_clients, client_id, chunk, members, ''
  from identity.token_rollup_users where grain in ('d', 'w') and audience = '*';

alter type identity.token_cell add attribute audience text;

-- functions whose arguments or results change: dropped, then created again below (their callers are
-- PL/pgSQL or SQL functions that resolve them by name when they run)
drop function identity.token_dashboard(timestamptz, timestamptz, text, uuid, text, text, integer);
drop function identity.get_token_stats(timestamptz, timestamptz, text);
drop function identity.token_heat(timestamptz, timestamptz, text, uuid, text, boolean);
drop function identity.token_top_users(timestamptz, timestamptz, text, uuid, integer);
drop function identity.token_unique_users(timestamptz, timestamptz, text, uuid, text[]);
drop function identity.token_unique_counts(timestamptz, timestamptz, uuid, boolean, text[]);
drop function identity.token_blocks(timestamptz[], timestamptz[], text, uuid, boolean, text, text);
drop function identity.token_cell_blocks(identity.token_cell[], boolean);
drop function identity.token_blocks_sealed(timestamptz[], timestamptz[], text, boolean, text, text);
drop function identity.token_cells(timestamptz[], timestamptz[], text, uuid);
drop function identity.token_cells_query(timestamptz[], timestamptz[], text, uuid, boolean, boolean);

-- An event's audience as the rollups key it: '' for the provider's default audience (null), else the stored
-- identifier. ('*' stands for every audience in the rollups: an event claiming it, which the audit writer never
-- writes, is counted under the default audience.)
-- Called by: token_cells_query, token_rollup_write_hour, token_unique_counts, token_top_users. Pure.
create or replace function identity.token_audience(a text) returns text
language sql immutable parallel safe as $$
  select case when a is null or a = '*' then '' else a end
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
create or replace function identity.token_cells_query(
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
create or replace function identity.token_cells(
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
create or replace function identity.token_rollup_write_hour(p_hour timestamptz, p_safe boolean) returns void
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
create or replace function identity.token_rollup_build_day(p_day timestamptz) returns void
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
create or replace function identity.token_rollup_build_week(p_week timestamptz) returns void
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

-- The sealed blocks of token_blocks only (no raw remainders): rollup rows for the sealed pieces of each
-- interval, read as runs of consecutive buckets (one index range scan per run). p_audience: only that
-- audience's blocks ('' the provider's default); p_by_audience: one block per audience (the "by API"
-- breakdown; audience set, '' for the default one) instead of per client.
-- Called by: token_blocks, token_dashboard. Read-only.
create or replace function identity.token_blocks_sealed(
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
create or replace function identity.token_cell_blocks(p_cells identity.token_cell[], p_by_client boolean, p_by_audience boolean default false)
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
create or replace function identity.token_blocks(
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
create or replace function identity.token_unique_counts(
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
create or replace function identity.token_unique_users(
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
create or replace function identity.token_top_users(
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
create or replace function identity.token_heat(
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

-- Everything the token analytics dashboard shows for [p_start, p_end), optionally for one client, one user
-- and/or one audience (p_audience: an API's resource identifier(s), '' the provider's default), with time buckets of p_bucket ('hour', 'day', 'week' (ISO, Monday), 'month'; default from the length
-- of the range) and the peak-usage heatmap in the IANA zone p_tz. Exact. One call, one JSON document. Its
-- statements run with generic plans (planned once per session; a function's SET reaches what it calls).
-- Called by: the data package (analytics.dashboard(), GET /api/analytics/tokens). Read-only: it never waits
-- for a lock; hours not sealed yet are read raw.
create or replace function identity.token_dashboard(
  p_start timestamptz, p_end timestamptz, p_client_id text default null, p_user_id uuid default null,
  p_tz text default 'UTC', p_bucket text default null, p_top integer default 10, p_audience text default null
)
returns jsonb
language plpgsql stable set jit = off set work_mem = '64MB' set plan_cache_mode = force_generic_plan as $fn$
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
  audiences jsonb;
  users jsonb;
  heat jsonb;
  uu bigint;
  -- shared: the raw remainders are read once for the series, the clients, the audiences and the heatmap
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
      -- per audience as well, for the "by API" table
      rawc := array(select c from identity.token_cells(rlo, rhi, p_client_id, p_user_id, p_audience, true) c);
    end if;
  end if;

  with r as (
    select * from identity.token_blocks(b_lo, b_hi, p_client_id, p_user_id, false, 'd', 'q', p_audience) where not shared
    union all
    select * from identity.token_blocks_sealed(b_lo, b_hi, p_client_id, false, 'd', 'q', p_audience) where shared and p_user_id is null
    union all
    select bi.i, x.bucket, x.client_id, x.events, x.issued, x.issued_authorization_code, x.issued_refresh_token,
           x.issued_client_credentials, x.refresh_tokens_issued, x.refreshed, x.failed, x.userinfo, x.revoked,
           x.introspected, x.lifetime_us, x.lifetime_n, x.ended_us, x.ended_n, x.failures, x.audience
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
    select * from identity.token_blocks(array[cs], array[ce], p_client_id, p_user_id, true, 'd', 'q', p_audience) where not shared
    union all
    select * from identity.token_blocks_sealed(array[cs], array[ce], p_client_id, true, 'd', 'q', p_audience) where shared and p_user_id is null
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

  -- per audience ("by API"): every audience with token events in the range, '' (null in the JSON) the default
  with r as (
    select * from identity.token_blocks(array[cs], array[ce], p_client_id, p_user_id, false, 'd', 'q', p_audience, true) where not shared
    union all
    select * from identity.token_blocks_sealed(array[cs], array[ce], p_client_id, false, 'd', 'q', p_audience, true) where shared and p_user_id is null
    union all
    select * from identity.token_cell_blocks(rawc, false, true) where shared
  ),
  a as (
    select r.audience, sum(r.events) as events, sum(r.issued) as issued, sum(r.issued_authorization_code) as iac,
           sum(r.issued_refresh_token) as irt, sum(r.issued_client_credentials) as icc, sum(r.refreshed) as refreshed,
           sum(r.failed) as failed
      from r where cs < ce group by r.audience
  )
  select coalesce(jsonb_agg(jsonb_build_object(
           'audience', nullif(a.audience, ''), 'issued', a.issued, 'authorization_code', a.iac, 'refresh_token', a.irt,
           'client_credentials', a.icc, 'other', a.issued - a.iac - a.irt - a.icc, 'refreshed', a.refreshed,
           'failed', a.failed, 'events', a.events) order by a.issued desc, a.events desc, a.audience collate "C"), '[]'::jsonb)
    into audiences
    from a;

  -- unique users: overall and for the most active clients
  -- (one pass over the raw remainders for all of them)
  with u as materialized (
    select * from identity.token_unique_counts(cs, ce, p_user_id, p_client_id is null,
                                               array(select x->>'client_id' from jsonb_array_elements(tops) x)
                                                 || case when p_client_id is not null then array[p_client_id] else '{}'::text[] end,
                                               p_audience)
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
    from identity.token_top_users(cs, ce, p_client_id, p_user_id, p_top, p_audience) t
    left join identity.users usr on usr.id = t.user_id;

  -- peak usage: token events by ISO weekday (1 = Monday) and hour of day, in the admin's zone
  with cell as materialized (
    select extract(isodow from (r.bucket at time zone p_tz))::integer as dow, extract(hour from (r.bucket at time zone p_tz))::integer as hr,
           sum(r.events) as n
      from (select h.bucket, h.events
              from identity.token_heat(cs, ce, p_client_id, p_user_id, case when whole_hour then 'h' else 'q' end, not shared, p_audience) h
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
    'filters', jsonb_build_object('client_id', p_client_id, 'user_id', p_user_id, 'audience', p_audience),
    'stats', (totals - 'lifetime' - 'rates') || jsonb_build_object('unique_users', coalesce(uu, 0),
                                                                    'unique_clients', jsonb_array_length(clients)
                                                                      - (case when clients @> '[{"client_id": null}]' then 1 else 0 end)),
    'lifetime', totals->'lifetime',
    'rates', totals->'rates',
    'issuance', coalesce(series, '[]'::jsonb),
    'failures', fail,
    'by_client', clients,
    'top_clients', tops,
    'by_audience', audiences,
    'top_users', users,
    'peak', jsonb_build_object('metric', 'token_events', 'weekday_hour', heat)
  );
end
$fn$;

-- Token totals for a time range (both ends included), optionally for one client (the token-audit story's
-- signature and meaning) and one audience (p_audience: an API's resource identifier(s), '' the provider's
-- default audience), served by the rollups. Failed: the failed token requests (token.validation_failed,
-- token.pkce_failed, token.code_invalid, token.code_replayed, token.refresh_reused, token.expired,
-- client.auth_failed); users and clients: distinct non-null ids over the token events (token.%,
-- client.auth_failed). Called by: the data package (analytics.stats()), SQL users. Read-only.
create or replace function identity.get_token_stats(
  p_start_date timestamptz,
  p_end_date timestamptz,
  p_client_id text default null,
  p_audience text default null
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
set plan_cache_mode = force_generic_plan
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
  with r as (select * from identity.token_blocks(array[s], array[e], p_client_id, null, true, 'd', 'q', p_audience))
  select coalesce(sum(r.issued), 0)::bigint, coalesce(sum(r.refreshed), 0)::bigint, coalesce(sum(r.failed), 0)::bigint,
         (select u.users from identity.token_unique_users(s, e, p_client_id, null, null, p_audience) u),
         count(distinct r.client_id)::bigint
    from r;
end
$fn$;

-- Daily token activity by action, client and grant (story name and columns). Days are UTC days.
create or replace view identity.token_analytics as
with st as (select coalesce(s.watermark, '-infinity'::timestamptz) as wm from identity.token_rollup_state s)
select x.date, x.action, x.client_id, x.grant_type, sum(x.n)::bigint as count
  from (
    -- sealed days
    select (r.bucket at time zone 'UTC')::date as date, a->>0 as action, r.client_id, a->>1 as grant_type, (a->>2)::bigint as n
      from identity.token_rollup r cross join st cross join lateral jsonb_array_elements(r.actions) a
     where r.grain = 'd' and not r.all_clients and r.audience = '*' and r.bucket + interval '24 hours' <= st.wm
       and not exists (select 1 from identity.token_rollup_dirty x where x.grain = 'd' and x.bucket = r.bucket)
    union all
    -- sealed hours of days that are not
    select (r.bucket at time zone 'UTC')::date, a->>0, r.client_id, a->>1, (a->>2)::bigint
      from identity.token_rollup r cross join st cross join lateral jsonb_array_elements(r.actions) a
     where r.grain = 'h' and not r.all_clients and r.audience = '*' and r.bucket + interval '1 hour' <= st.wm
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


revoke all on function identity.get_token_stats(timestamptz, timestamptz, text, text) from public;

-- On Supabase: nothing for the API roles on the functions created here (as supabase/schemas/090_api_roles.sql)
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on all functions in schema identity from anon, authenticated';
  end if;
end
$$;
