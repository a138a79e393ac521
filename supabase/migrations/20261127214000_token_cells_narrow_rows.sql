-- Token analytics: the raw remainders' cells (identity.token_cells_query) computed the way sealing computes an
-- hour since 20261127190000: one narrow row per event, each detail read and each timestamp parsed once, the
-- lifetimes summed as intervals and turned into microseconds once per cell (the same integers: whole
-- microseconds, and extract(epoch) is linear), and the revoked access tokens to look up by jti taken from those
-- rows instead of a second scan of the ranges. Same signature, same cells. Every dashboard call reads its raw
-- remainders through here (the current hour, a dirty hour, the partial quarters at the range's edges). A small
-- gain (at 10M events with about 6,300 raw events, 28 -> 26 ms): most of the time is reading the rows, parsing
-- their timestamps, and the revoked tokens' look-back scan of the 75 minutes around each hour.

create or replace function identity.token_cells_query(
  p_starts timestamptz[], p_ends timestamptz[], p_client_id text, p_user_id uuid, p_safe boolean, p_by_user boolean default false
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
           e.iss and e.details->>'refresh_token_expires_at' is not null as rt,
           case when e.iss then identity.token_ts(e.details->>'expires_at', p_safe) - e.iat end as life,
           case when e.action = 'token.refreshed' then e.created_at - identity.token_ts(e.details->>'previous_issued_at', p_safe)
                when e.action = 'token.revoked' then e.created_at - e.iat end as ended,
           -- revoked access tokens that do not say when they were issued: looked up by jti below
           case when e.action = 'token.revoked' and e.iat is null and e.details->>'token_type' = 'access_token'
                then e.details->>'jti' end as rjti
      from (select iv.idx, l.created_at, l.action, l.client_id, l.user_id, l.grant_type, l.details,
                   l.action like 'token.issued.%' as iss, identity.token_is_failure(l.action) as fail,
                   case when l.action like 'token.issued.%' or l.action = 'token.revoked'
                        then identity.token_ts(l.details->>'issued_at', p_safe) end as iat
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
            offset 0) e
  ),
  main as (
    select r.idx, r.q, r.client_id, r.user_id, r.action, r.grant_type, r.reason, count(*) as n, count(*) filter (where r.rt) as rt,
           identity.token_us(sum(r.life)) as life_us, count(r.life) as life_n, identity.token_us(sum(r.ended)) as ended_us, count(r.ended) as ended_n
      from r
     group by 1, 2, 3, 4, 5, 6, 7
  ),
  rv as (
    select r.idx, r.created_at, r.client_id, r.user_id, r.grant_type, r.rjti as jti,
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
         coalesce(m.ended_us, 0)::bigint, m.ended_n
    from main m
  union all
  select rv.idx, date_bin('15 minutes', rv.created_at, timestamptz '2000-01-01 00:00:00+00'), rv.client_id, rv.user_id, 'token.revoked',
         rv.grant_type, null, 0, 0, 0, 0, sum(identity.token_us(rv.created_at - h.issued_at))::bigint, count(*)
    from rv join hits h on h.jti = rv.jti and h.h = rv.h
   group by 1, 2, 3, 4, 5, 6;
end
$fn$;
