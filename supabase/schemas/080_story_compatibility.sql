-- Token analytics: the token-audit story's names (identity.token_analytics, identity.get_token_stats), served
-- by the rollups.

-- Daily token activity by action, client and grant (story name and columns). Days are UTC days.
create view identity.token_analytics as
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

-- Token totals for a time range (both ends included), optionally for one client (the token-audit story's
-- signature and meaning) and one audience (p_audience: an API's resource identifier(s), '' the provider's
-- default audience), served by the rollups. Failed: the failed token requests (token.validation_failed,
-- token.pkce_failed, token.code_invalid, token.code_replayed, token.refresh_reused, token.expired,
-- client.auth_failed); users and clients: distinct non-null ids over the token events (token.%,
-- client.auth_failed). Called by: the data package (analytics.stats()), SQL users. Read-only.
create function identity.get_token_stats(
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

revoke all on function identity.get_token_stats(timestamptz, timestamptz, text, text) from public;
