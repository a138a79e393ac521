-- Token analytics: the audit_logs insert trigger, the writers' side of sealing.

-- The statement-level AFTER INSERT trigger of audit_logs: one call per insert statement (the audit writer's
-- batch), the batch as transition table "inserted". Takes shared locks on the batch's hours and days, starts
-- the watermark on the first token event, marks hours (and days) that receive late events dirty, and seals
-- (token_rollup_advance, seal_hours_per_call hours) only when no background sealer is alive: a heartbeat
-- older than sealer_timeout (or far in the future) does not count.
-- Concurrency: pg_advisory_xact_lock_shared(726201, hour) and (726202, day), in order, held until the
-- writer commits, so a sealer never seals an hour with uncommitted rows; the state is read after the locks.
create function identity.token_rollup_on_insert() returns trigger
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

create trigger audit_logs_token_rollup
  after insert on identity.audit_logs
  referencing new table as inserted
  for each statement execute function identity.token_rollup_on_insert();
