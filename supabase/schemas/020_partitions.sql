-- Token analytics: monthly partitions of audit_logs and retention. The provider's maintenance loop calls
-- both every minute (analytics.ensurePartitions(), analytics.applyRetention()).

-- Creates the monthly partitions of audit_logs (UTC months, audit_logs_pYYYY_MM) from the month of p_from
-- (default: now, never before now - raw_retention) to partitions_ahead months ahead; rows already in the
-- default partition for a new month are moved into it. Returns how many partitions were created.
-- Called by: this schema once, the data package (analytics.ensurePartitions(), from the maintenance loop)
-- and the benchmark. Concurrency: pg_advisory_xact_lock(726203): one creator at a time.
create function identity.audit_ensure_partitions(p_from timestamptz default null) returns integer
language plpgsql set jit = off set work_mem = '64MB' as $fn$
declare
  st identity.token_rollup_state;
  m timestamp;
  last timestamp;
  name text;
  lo timestamptz;
  hi timestamptz;
  created integer := 0;
begin
  perform pg_advisory_xact_lock(726203);
  select * into st from identity.token_rollup_state;
  m := greatest(date_trunc('month', coalesce(p_from, now()) at time zone 'UTC'),
                date_trunc('month', (now() - st.raw_retention) at time zone 'UTC'));
  last := date_trunc('month', now() at time zone 'UTC') + make_interval(months => st.partitions_ahead);
  while m <= last loop
    name := 'audit_logs_p' || to_char(m, 'YYYY_MM');
    lo := m at time zone 'UTC';
    hi := (m + interval '1 month') at time zone 'UTC';
    if to_regclass(format('identity.%I', name)) is null then
      if exists (select 1 from identity.audit_logs_default l where l.created_at >= lo and l.created_at < hi) then
        execute format('create table identity.%I (like identity.audit_logs including defaults including constraints)', name);
        execute format('with moved as (delete from identity.audit_logs_default where created_at >= $1 and created_at < $2 returning *)
                        insert into identity.%I select * from moved', name) using lo, hi;
        execute format('alter table identity.audit_logs attach partition identity.%I for values from (%L) to (%L)', name, lo, hi);
      else
        execute format('create table identity.%I partition of identity.audit_logs for values from (%L) to (%L)', name, lo, hi);
      end if;
      execute format('alter table identity.%I enable row level security', name);
      created := created + 1;
    end if;
    m := m + interval '1 month';
  end loop;
  return created;
end
$fn$;

-- Drops the monthly partitions that ended before now() - p_retention (default: raw_retention) and are
-- sealed (below the watermark, no dirty hour); deletes such rows from the default partition. Seals pending
-- hours first (token_rollup_maintain) only when a month past the horizon needs it. Rollups keep the history.
-- Returns how many partitions were dropped.
-- Called by: the data package (analytics.applyRetention(), from the maintenance loop every minute).
-- Concurrency: drop table takes an access exclusive lock on the month, which no writer touches any more.
create function identity.audit_apply_retention(p_retention interval default null) returns integer
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

-- the current month and partitions_ahead months ahead
select identity.audit_ensure_partitions();
