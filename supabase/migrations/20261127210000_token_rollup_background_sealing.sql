-- Token analytics: sealing hours off the audit writer's path when a background sealer runs.
--
-- Until now the audit_logs trigger sealed every hour itself: once an hour (and at midnight, the day and week
-- as well), one of the writer's batch inserts ran 30-40 ms longer (80-100 ms on a connection's first seal),
-- and an error while sealing failed that insert, so audit events waited in the writer's spool because of an
-- analytics problem. Now a process that seals regularly (the provider's maintenance loop, or pg_cron on a
-- Supabase project: `select identity.token_rollup_seal_background()` every minute) says so with a heartbeat,
-- and while the heartbeat is fresh the trigger only records what it must (the watermark's start, late events
-- in sealed hours) and leaves sealing to it. Without a heartbeat, or when it is older than sealer_timeout (the
-- sealer stopped), the trigger seals as before, so rollups never fall behind for long.
-- Reads are exact either way: an hour not sealed yet is read raw.

alter table identity.token_rollup_state
  -- the last time identity.token_rollup_seal_background ran (analytics clock); null: never
  add column sealer_seen_at timestamptz,
  -- the trigger seals by itself when the background sealer has not run for this long
  add column sealer_timeout interval not null default '5 minutes';

-- One round of background sealing: records the heartbeat, then seals every hour (and day, week) that can be
-- sealed, at most p_max_hours hours. Returns the number of hours sealed. Call it every minute or so; calls
-- from several processes at once are safe (each hour is sealed under its advisory lock, once).
create or replace function identity.token_rollup_seal_background(p_max_hours integer default 500) returns integer
language plpgsql set jit = off set work_mem = '64MB' as $fn$
begin
  update identity.token_rollup_state set sealer_seen_at = identity.token_clock();
  return identity.token_rollup_advance(p_max_hours);
end
$fn$;

-- The trigger: as in 20261127190000, except that it seals only while no background sealer is alive.
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
  sealer_alive boolean;
  clock timestamptz := identity.token_clock();
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
  -- (a heartbeat far in the future, e.g. left by a clock override, does not count as alive)
  select s.watermark, s.seal_grace, s.seal_hours_per_call,
         s.sealer_seen_at between clock - s.sealer_timeout and clock + s.sealer_timeout,
         exists (select 1 from identity.token_rollup_dirty x where x.grain = 'h')
    into wm, grace, per_call, sealer_alive, dirty
    from identity.token_rollup_state s;
  if hrs is not null then
    if wm is null then
      update identity.token_rollup_state
         set watermark = least(hrs[1], date_trunc('hour', clock - seal_grace, 'UTC'))
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
  if per_call > 0 and wm is not null and not coalesce(sealer_alive, false)
     and (dirty or wm < date_trunc('hour', clock - grace, 'UTC')) then
    perform identity.token_rollup_advance(per_call);
  end if;
  return null;
end
$fn$;
