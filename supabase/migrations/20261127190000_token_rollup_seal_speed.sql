-- Token analytics: cheaper rollup upkeep on the audit writer's path (issue 5: "under 10% of audit write
-- throughput"). Same rollups, to the bit; same signatures; nothing the read side uses changes.
--
-- 1. identity.token_rollup_write_hour (sealing an hour) is rewritten:
--    - one pass over the hour's rows into narrow rows, each detail read and each timestamp parsed once;
--    - counts grouped WITHOUT the user (per quarter, client, action, grant, reason: about a thousand cells instead
--      of one per event), and the users apart: per (client, user) and per user, for the hour only;
--    - the revoked-token look-back takes the hour's own issued tokens from the rows already read and scans only
--      the stretch before the hour (revocation_lookback), joining on the jti by hash;
--    - lifetimes are summed as intervals and turned into microseconds once per rollup row (the same integers);
--    - the user lists are sorted as single int8 values, the hourly bitmap is built inline (not through
--      identity.token_bitmaps, whose query was planned again at every call).
--    It plans for hash joins and hash aggregation (nested loops and explicit sorts off) with a generic plan, once
--    per session: right after a month's partition is created its statistics say "empty" (one-row estimates), and
--    the plans chosen from them looped over the hour's rows for seconds, or sorted them on five text keys.
-- 2. identity.token_hour_key / token_day_key become stable, so that they are inlined (see there).
-- 3. The trigger reads the batch and the state once each; identity.token_rollup_advance finds whether an hour has
--    token events through the primary key.
-- 4. The user lists are compressed with lz4 where the server has it (as the bitmaps already are).

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
    select e.id, e.created_at, e.q, e.client_id, e.user_id, e.action, e.grant_type, e.iss,
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
                   l.client_id, l.user_id, l.action, l.grant_type, l.details,
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
  -- counts per (quarter, client, action, grant, reason); integers, so that the sums below stay in int8
  c as materialized (
    select r.q, r.client_id, r.action, r.grant_type, r.reason, count(*)::integer as n,
           (count(*) filter (where r.rt))::integer as rti, sum(r.life) as life, count(r.life)::integer as life_n,
           sum(coalesce(r.ended, r.created_at - h.iat)) as ended, count(coalesce(r.ended, r.created_at - h.iat))::integer as ended_n
      from r left join hits h on h.jti = r.rjti
     group by 1, 2, 3, 4, 5
  ),
  qc as (
    select c.q, c.client_id, sum(c.n)::integer as events,
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
      from c group by c.q, c.client_id
  ),
  -- quarters per client, then rolled up: quarters of all clients, the hour per client and of all clients
  -- (kq, kc, kn: the row's key, hashable: client_id is null both for all clients and for no client)
  g as materialized (
    select grouping(qc.q) as gq, grouping(qc.client_id) as gc, qc.q, qc.client_id,
           coalesce(qc.q, p_hour) as kq, coalesce(qc.client_id, '') as kc, qc.client_id is null as kn,
           sum(qc.events) as events, sum(qc.issued) as issued, sum(qc.iac) as iac, sum(qc.irt) as irt, sum(qc.icc) as icc,
           sum(qc.rti) as rti, sum(qc.refreshed) as refreshed, sum(qc.failed) as failed, sum(qc.userinfo) as userinfo,
           sum(qc.revoked) as revoked, sum(qc.introspected) as introspected,
           coalesce(identity.token_us(sum(qc.life)), 0) as life_us, sum(qc.life_n) as life_n,
           coalesce(identity.token_us(sum(qc.ended)), 0) as ended_us, sum(qc.ended_n) as ended_n
      from qc
     group by grouping sets ((qc.q, qc.client_id), (qc.q), (qc.client_id), ())
    having count(*) > 0
  ),
  f as materialized (
    select x.gq, x.gc, coalesce(x.q, p_hour) as kq, coalesce(x.client_id, '') as kc, x.client_id is null as kn,
           jsonb_object_agg(x.reason, x.n) as m
      from (select grouping(c.q) as gq, grouping(c.client_id) as gc, c.q, c.client_id, c.reason, sum(c.n) as n
              from c where c.reason is not null
             group by grouping sets ((c.q, c.client_id, c.reason), (c.q, c.reason), (c.client_id, c.reason), (c.reason))) x
     group by x.gq, x.gc, x.q, x.client_id
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
    select r.client_id, r.user_id, r.iss, kn.ordinal from r left join known kn on kn.user_id = r.user_id where r.user_id is not null
  ),
  fresh as (
    insert into identity.token_user_ordinals (user_id)
    select distinct ru.user_id from ru where ru.ordinal is null
    on conflict (user_id) do update set user_id = excluded.user_id
    returning user_id, ordinal
  ),
  -- token events and tokens issued per (client, user) and per user (all clients)
  uo as materialized (
    select grouping(x.client_id) = 1 as all_clients, x.client_id, x.o, (count(*) filter (where x.iss))::integer as iss
      from (select ru.client_id, coalesce(ru.ordinal, fr.ordinal) as o, ru.iss from ru left join fresh fr on fr.user_id = ru.user_id) x
     group by grouping sets ((x.client_id, x.o), (x.o))
  ),
  -- the hour's users, all clients, as bitmaps (identity.token_bitmaps inline: planned once per session, not per call)
  bits as (
    insert into identity.token_rollup_users (grain, bucket, all_clients, client_id, chunk, members)
    select 'h', p_hour, true, null, z.chunk,
           ('x' || string_agg(repeat('0000000000000000', z.w - z.prev - 1) || lpad(to_hex(z.v), 16, '0'), '' order by z.w)
                || repeat('0000000000000000', 1023 - max(z.w)))::bit varying
      from (select y.chunk, y.w, y.v, lag(y.w, 1, -1) over (partition by y.chunk order by y.w) as prev
              from (select uo.o >> 16 as chunk, (uo.o & 65535) >> 6 as w, bit_or(1::bigint << (63 - (uo.o & 63))) as v
                      from uo where uo.all_clients group by 1, 2) y) z
     group by z.chunk
  ),
  -- the hour's lists, per client and for all clients, each sorted as one int8 (a datum sort): all: ordinal << 32 |
  -- count, by ordinal; top: (2^31 - 1 - count) << 32 | ordinal, which sorts by count desc, ordinal, of which the
  -- first top_k + 1 are turned into the stored form, ordinal << 32 | count
  lists as materialized (
    select y.all_clients, y.kc, y.kn, y.alls,
           (select array_agg(((t.v & 4294967295) << 32) | (2147483647 - (t.v >> 32)) order by t.i)
              from unnest(y.top[1:k + 1]) with ordinality t(v, i)) as top
      from (select false as all_clients, coalesce(x.client_id, '') as kc, x.client_id is null as kn,
                   array_agg(x.tk order by x.tk) filter (where x.iss > 0) as top, array_agg(x.pk order by x.pk) as alls
              from (select uo.client_id, uo.iss, ((2147483647 - uo.iss)::bigint << 32) | uo.o as tk,
                           (uo.o::bigint << 32) | uo.iss as pk
                      from uo where not uo.all_clients) x
             group by x.client_id
            union all
            select true, '', true, array_agg(x.tk order by x.tk) filter (where x.iss > 0), array_agg(x.pk order by x.pk)
              from (select uo.iss, ((2147483647 - uo.iss)::bigint << 32) | uo.o as tk, (uo.o::bigint << 32) | uo.iss as pk
                      from uo where uo.all_clients) x) y
  )
  insert into identity.token_rollup (
    grain, bucket, all_clients, client_id, events, issued, issued_authorization_code, issued_refresh_token,
    issued_client_credentials, refresh_tokens_issued, refreshed, failed, userinfo, revoked, introspected,
    lifetime_us, lifetime_n, ended_us, ended_n, failures, actions, top_list, top_tail, all_list
  )
  select case when g.gq = 1 then 'h' else 'q' end, g.kq, g.gc = 1, g.client_id,
         g.events, g.issued, g.iac, g.irt, g.icc, g.rti, g.refreshed, g.failed, g.userinfo, g.revoked, g.introspected,
         g.life_us, g.life_n, g.ended_us, g.ended_n, f.m, a.m,
         l.top[1:k], case when g.gq = 1 then coalesce((l.top[k + 1] & 4294967295)::integer, 0) end, l.alls
    from g
    left join f on f.gq = g.gq and f.gc = g.gc and f.kq = g.kq and f.kc = g.kc and f.kn = g.kn
    left join a on g.gq = 1 and g.gc = 0 and a.kc = g.kc and a.kn = g.kn
    left join lists l on g.gq = 1 and l.all_clients = (g.gc = 1) and l.kc = g.kc and l.kn = g.kn;
end
$fn$;

-- The advisory-lock keys, now stable like the extract(epoch from timestamptz) they use: an immutable SQL function
-- over a stable expression is never inlined, so each call was parsed and planned again (twice per trigger call).
create or replace function identity.token_hour_key(h timestamptz) returns integer
language sql stable parallel safe as $$ select floor(extract(epoch from h) / 3600)::integer $$;

create or replace function identity.token_day_key(d timestamptz) returns integer
language sql stable parallel safe as $$ select floor(extract(epoch from d) / 86400)::integer $$;

-- Seals closed hours: dirty ones first, then moves the watermark forward; at most p_max_hours hours with
-- events (a stretch without token events is passed over cheaply). Returns the number of hours sealed.
-- (As in 20261122000300, but for how an hour is found to have token events.)
create or replace function identity.token_rollup_advance(p_max_hours integer) returns integer
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
      -- (the first token event of the hour, in created_at order: read through the primary key whatever the
      -- partition's statistics say; an exists let a stale "empty" estimate pick the client index, a full scan)
      if (select l.created_at from identity.audit_logs l
           where l.created_at >= h and l.created_at < h + interval '1 hour'
             and (l.action like 'token.%' or l.action = 'client.auth_failed')
           order by l.created_at limit 1) is not null then
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

-- The trigger: one call per insert statement (the writer's batch). Same work as before in fewer statements: one
-- read of the batch (its first and last instants), the locks as plain calls when the batch is within one hour, one
-- read of the state (with whether any hour is dirty), and no function-level settings (nothing here needs them).
create or replace function identity.token_rollup_on_insert() returns trigger
language plpgsql as $fn$
declare
  lo timestamptz;
  hi timestamptz;
  hrs timestamptz[];
  wm timestamptz;
  grace interval;
  per_call integer;
  dirty boolean;
begin
  -- the batch's hours (usually one): from its first and last instants when they share an hour
  select date_bin('1 hour', min(i.created_at), timestamptz '2000-01-01 00:00:00+00'),
         date_bin('1 hour', max(i.created_at), timestamptz '2000-01-01 00:00:00+00')
    into lo, hi from inserted i;
  -- we are writing into these hours and days: sealing them waits for our commit
  if lo = hi then
    perform pg_advisory_xact_lock_shared(726201, identity.token_hour_key(lo));
    perform pg_advisory_xact_lock_shared(726202, identity.token_day_key(date_bin('1 day', lo, timestamptz '2000-01-01 00:00:00+00')));
    hrs := array[lo];
  elsif lo is not null then
    select array_agg(s.h order by s.h) into hrs
      from (select distinct date_bin('1 hour', i.created_at, timestamptz '2000-01-01 00:00:00+00') as h from inserted i) s;
    perform pg_advisory_xact_lock_shared(726201, identity.token_hour_key(x.h)) from unnest(hrs) x(h) order by x.h;
    perform pg_advisory_xact_lock_shared(726202, identity.token_day_key(x.d))
       from (select distinct date_bin('1 day', y.h, timestamptz '2000-01-01 00:00:00+00') as d from unnest(hrs) y(h)) x order by x.d;
  end if;
  -- (read after taking the locks: a seal that committed meanwhile has moved the watermark)
  select s.watermark, s.seal_grace, s.seal_hours_per_call, exists (select 1 from identity.token_rollup_dirty x where x.grain = 'h')
    into wm, grace, per_call, dirty
    from identity.token_rollup_state s;
  if hrs is not null then
    if wm is null then
      update identity.token_rollup_state
         set watermark = least(hrs[1], date_trunc('hour', identity.token_clock() - seal_grace, 'UTC'))
       where watermark is null
      returning watermark into wm;
      if wm is null then
        select s.watermark into wm from identity.token_rollup_state s;
      end if;
    end if;
    if hrs[1] < wm then
      -- late events in sealed hours: those hours (and their days) are read raw until resealed
      insert into identity.token_rollup_dirty (grain, bucket)
      select 'h', x.h from unnest(hrs) x(h) where x.h < wm
      on conflict do nothing;
      insert into identity.token_rollup_dirty (grain, bucket)
      select distinct 'd', date_trunc('day', x.h, 'UTC') from unnest(hrs) x(h)
       where x.h < wm and date_trunc('day', x.h, 'UTC') + interval '24 hours' <= wm
      on conflict do nothing;
      dirty := true;
    end if;
  end if;
  if per_call > 0 and wm is not null and (dirty or wm < date_trunc('hour', identity.token_clock() - grace, 'UTC')) then
    perform identity.token_rollup_advance(per_call);
  end if;
  return null;
end
$fn$;

-- The hour and day user lists (tens of KB for all clients, compressed on every seal): lz4 where the server has it,
-- like the bitmaps (pglz otherwise, e.g. PGlite). Only new values are affected; both read back the same.
do $$
begin
  if exists (select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
    execute 'alter table identity.token_rollup alter column all_list set compression lz4, alter column top_list set compression lz4';
  end if;
end
$$;
