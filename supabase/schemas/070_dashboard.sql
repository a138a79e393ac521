-- Token analytics: the dashboard, in one call.

-- Everything the token analytics dashboard shows for [p_start, p_end), optionally for one client, one user
-- and/or one audience (p_audience: an API's resource identifier(s), '' the provider's default), with time buckets of p_bucket ('hour', 'day', 'week' (ISO, Monday), 'month'; default from the length
-- of the range) and the peak-usage heatmap in the IANA zone p_tz. Exact. One call, one JSON document. Its
-- statements run with generic plans (planned once per session; a function's SET reaches what it calls).
-- Called by: the data package (analytics.dashboard(), GET /api/analytics/tokens). Read-only: it never waits
-- for a lock; hours not sealed yet are read raw.
create function identity.token_dashboard(
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
