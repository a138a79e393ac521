-- Token analytics: sealing. Who seals: the background sealer (token_rollup_seal_background, the provider's
-- maintenance loop every minute) while its heartbeat is fresh, otherwise the audit_logs insert trigger
-- (050_trigger.sql). Locks (transaction-scoped advisory locks, class 726201 hours, 726202 days, 726203
-- partition creation, 726204 the one background sealer): writers hold their hours and days shared until they
-- commit; sealing an hour or building a day try-locks it exclusively and skips it when busy.

-- Seals one UTC hour: deletes its quarter, hour and user rows and writes them again from the raw rows
-- (token_rollup_write_hour), retried with the safe timestamp parser if a detail is malformed.
-- Called by: token_rollup_advance; the benchmark times it alone.
-- Concurrency: the caller holds the hour's exclusive advisory lock (726201, token_hour_key), so no writer
-- is inserting into the hour (writers hold it shared until they commit) and no other sealer seals it.
create function identity.token_rollup_seal_hour(p_hour timestamptz) returns void
language plpgsql set jit = off set work_mem = '64MB' as $fn$
begin
  delete from identity.token_rollup r where r.grain in ('h', 'q') and r.bucket >= p_hour and r.bucket < p_hour + interval '1 hour';
  delete from identity.token_rollup_users u where u.grain = 'h' and u.bucket = p_hour;
  begin
    perform identity.token_rollup_write_hour(p_hour, false);
  exception when data_exception then
    -- a malformed timestamp in some detail: again, with the parser that never raises
    perform identity.token_rollup_write_hour(p_hour, true);
  end;
end
$fn$;

-- A day whose hours are all below the watermark: builds it (and its week), or marks it dirty when one of
-- its hours is dirty or someone is writing into it right now (it is built later). Returns whether it built.
-- Called by: token_rollup_advance.
-- Concurrency: try-lock of the day (726202, token_day_key); writers into the day hold it shared.
create function identity.token_rollup_close_day(p_day timestamptz) returns boolean
language plpgsql set jit = off set work_mem = '64MB' as $fn$
begin
  if pg_try_advisory_xact_lock(726202, identity.token_day_key(p_day))
     and not exists (select 1 from identity.token_rollup_dirty x
                      where x.grain = 'h' and x.bucket >= p_day and x.bucket < p_day + interval '24 hours') then
    perform identity.token_rollup_build_day(p_day);
    delete from identity.token_rollup_dirty x where x.grain = 'd' and x.bucket = p_day;
    perform identity.token_rollup_build_week(date_trunc('week', p_day, 'UTC'));
    return true;
  end if;
  insert into identity.token_rollup_dirty (grain, bucket) values ('d', p_day) on conflict do nothing;
  return false;
end
$fn$;

-- Seals closed hours: dirty hours first, then hours at the watermark, moving it forward one hour at a time
-- up to token_clock() - seal_grace, closing each day it completes, then dirty days whose hours are clean. At
-- most p_max_hours hours with events (a stretch without token events is passed over cheaply). Returns the
-- number of hours sealed.
-- Called by: token_rollup_seal_background, token_rollup_maintain, and the insert trigger when no background
-- sealer is alive.
-- Concurrency: each hour under pg_try_advisory_xact_lock(726201, hour): a busy hour (a writer's open
-- transaction, another sealer) is skipped, and the watermark stops there; the watermark is re-read under the
-- lock. Locks are transaction-scoped: call it in a short transaction.
create function identity.token_rollup_advance(p_max_hours integer) returns integer
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

-- Seals everything that can be sealed now (after a bulk load, after downtime), 500 hours per step.
-- Called by: token_rollup_rebuild, audit_apply_retention when a month it could drop is not sealed yet, and
-- the data package (analytics.sealPending()). Concurrency: as token_rollup_advance, in one transaction.
create function identity.token_rollup_maintain() returns integer
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  total integer := 0;
  n integer;
begin
  loop
    n := identity.token_rollup_advance(500);
    total := total + n;
    exit when n = 0;
  end loop;
  return total;
end
$fn$;

-- Recomputes the rollups from audit_logs: every hour from p_from (default: the oldest raw event) on. Rollups
-- of older hours (whose raw events retention has dropped) are kept. Returns the hours sealed.
-- Called by: the data package (analytics.rebuild()) and the benchmark's loader.
-- Concurrency: locks token_rollup_state in exclusive mode (writers' triggers and sealers wait), then seals
-- in the same transaction.
create function identity.token_rollup_rebuild(p_from timestamptz default null) returns integer
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  f timestamptz := date_trunc('hour', coalesce(p_from, (select min(l.created_at) from identity.audit_logs l)), 'UTC');
begin
  lock table identity.token_rollup_state in exclusive mode;
  if f is null then
    delete from identity.token_rollup;
    delete from identity.token_rollup_users;
    delete from identity.token_rollup_dirty;
    update identity.token_rollup_state set watermark = null;
    return 0;
  end if;
  delete from identity.token_rollup r where (r.grain in ('h', 'q') and r.bucket >= f) or (r.grain = 'd' and r.bucket >= date_trunc('day', f, 'UTC'));
  delete from identity.token_rollup_users u where (u.grain = 'h' and u.bucket >= f) or (u.grain = 'd' and u.bucket >= date_trunc('day', f, 'UTC'));
  delete from identity.token_rollup_dirty x where x.bucket >= date_trunc('day', f, 'UTC');
  if f <> date_trunc('day', f, 'UTC') then
    insert into identity.token_rollup_dirty (grain, bucket) values ('d', date_trunc('day', f, 'UTC')) on conflict do nothing;
  end if;
  update identity.token_rollup_state set watermark = least(coalesce(watermark, f), f);
  update identity.token_rollup_state set watermark = f;
  return identity.token_rollup_maintain();
end
$fn$;

-- One round of background sealing: stamps the heartbeat (token_rollup_sealer.seen_at, analytics clock), then
-- seals every hour (and day, week) that can be sealed, at most p_max_hours hours with events. Returns the
-- number of hours sealed (0 also when another sealer's round is running).
-- Called by: the provider's maintenance loop every minute, one hour per statement (p_max_hours = 1) within a
-- time budget; on Supabase pg_cron may call it too.
-- Concurrency: one sealer at a time (pg_try_advisory_xact_lock(726204, 0); a second returns 0 at once); the
-- heartbeat has its own row, which writers only read, so a round never blocks a writer.
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
