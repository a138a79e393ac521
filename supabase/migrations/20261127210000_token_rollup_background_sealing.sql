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
--
-- The heartbeat has a row of its own, which writers only read: were it in token_rollup_state, a round would
-- lock that row from its first statement, and a writer still sealing by trigger (no fresh heartbeat yet, e.g.
-- in the provider's first minute) would wait for the round at its own watermark update, or deadlock with it.
-- One sealer runs at a time (several provider instances): a round that finds another running returns at once.
--
-- identity.audit_apply_retention, also run every minute by the maintenance loop, sealed every pending hour in
-- one statement first (identity.token_rollup_maintain); it now does so only when a month it could drop needs it.

alter table identity.token_rollup_state
  -- the trigger seals by itself when the background sealer has not run for this long
  add column sealer_timeout interval not null default '5 minutes' check (sealer_timeout > interval '0');

create table identity.token_rollup_sealer (
  id boolean primary key default true check (id),
  -- the last round of identity.token_rollup_seal_background (analytics clock); null: never
  seen_at timestamptz
);
insert into identity.token_rollup_sealer default values;
alter table identity.token_rollup_sealer enable row level security;

-- One round of background sealing: records the heartbeat, then seals every hour (and day, week) that can be
-- sealed, at most p_max_hours hours with events. Returns the number of hours sealed (0 also when another
-- sealer's round is running). Call it every minute or so.
create function identity.token_rollup_seal_background(p_max_hours integer default 24) returns integer
language plpgsql set jit = off set work_mem = '64MB' as $fn$
begin
  if coalesce(p_max_hours, 0) < 1 then
    raise exception 'p_max_hours must be at least 1' using errcode = '22023';
  end if;
  -- another sealer's round is running: it stamps the heartbeat, and would take the same hours
  if not pg_try_advisory_xact_lock(726204, 0) then
    return 0;
  end if;
  update identity.token_rollup_sealer set seen_at = identity.token_clock();
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
         (select h.seen_at from identity.token_rollup_sealer h) between clock - s.sealer_timeout and clock + s.sealer_timeout,
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

-- As in 20261122000300, except that it seals pending hours only when a month past the horizon is not sealed
-- (or has a dirty hour) yet, which is what dropping it needs.
create or replace function identity.audit_apply_retention(p_retention interval default null) returns integer
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  horizon timestamptz := now() - coalesce(p_retention, (select s.raw_retention from identity.token_rollup_state s));
  wm timestamptz;
  months text[];
  month_ends timestamptz[];
  dropped integer := 0;
begin
  wm := coalesce((select s.watermark from identity.token_rollup_state s), '-infinity');
  -- the monthly partitions, and where each ends
  select array_agg(c.relname order by c.relname),
         array_agg((to_date(substr(c.relname, 13), 'YYYY_MM') + interval '1 month')::timestamp at time zone 'UTC' order by c.relname)
    into months, month_ends
    from pg_inherits i join pg_class c on c.oid = i.inhrelid
   where i.inhparent = 'identity.audit_logs'::regclass and c.relname ~ '^audit_logs_p[0-9]{4}_[0-9]{2}$';
  if exists (select 1 from unnest(month_ends) e where e <= horizon and e > wm)
     or exists (select 1 from identity.token_rollup_dirty x where x.grain = 'h' and x.bucket < horizon)
     or exists (select 1 from identity.audit_logs_default l where l.created_at < horizon and l.created_at >= wm) then
    perform identity.token_rollup_maintain();
    wm := coalesce((select s.watermark from identity.token_rollup_state s), '-infinity');
  end if;
  for i in 1 .. coalesce(cardinality(months), 0) loop
    if month_ends[i] <= horizon and month_ends[i] <= wm
       and not exists (select 1 from identity.token_rollup_dirty x where x.grain = 'h' and x.bucket < month_ends[i]) then
      execute format('drop table identity.%I', months[i]);
      dropped := dropped + 1;
    end if;
  end loop;
  delete from identity.audit_logs_default l
   where l.created_at < least(horizon, wm)
     and not exists (select 1 from identity.token_rollup_dirty x where x.grain = 'h' and x.bucket = date_trunc('hour', l.created_at, 'UTC'));
  return dropped;
end
$fn$;

-- On Supabase: the API roles get nothing here either (no-op on plain Postgres).
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on identity.token_rollup_sealer from anon, authenticated';
    execute 'revoke all on all functions in schema identity from anon, authenticated';
  end if;
end
$$;
