-- Baseline: the partitioned audit trail, the analytics tables and settings, the monthly partitions.
--
-- The pre-release migrations were squashed on 1 December 2026 into four baselines; this one holds the
-- statements of supabase/schemas/{010_tables.sql, 020_partitions.sql}
-- as they were then. Like every migration it never changes once applied (checksummed): a schema change edits
-- supabase/schemas/ and adds a forward migration (see supabase/schemas/001_accounts.sql).

-- ---------------------------------------------------------------------------------------------------------
-- supabase/schemas/010_tables.sql
-- ---------------------------------------------------------------------------------------------------------

-- Token analytics: the tables. docs/analytics.md describes the design; in short: the audit trail
-- (identity.audit_logs) is partitioned by month; rollups are sealed per UTC hour (token_rollup: counts per
-- quarter, hour and day; token_rollup_users: user bitmaps per hour, day and week); what is not sealed yet is
-- read raw, so every answer is exact at all times.

-- The audit trail (names from the token-audit story), monthly range partitions by created_at
-- (audit_logs_pYYYY_MM, 020_partitions.sql) and a default partition, so retention drops whole months.
-- user_id has no foreign key on purpose: the trail must outlive the accounts it mentions.
create sequence identity.audit_log_id_seq as bigint;
create table identity.audit_logs (
  id bigint not null default nextval('identity.audit_log_id_seq'),
  -- client-generated, so a spooled event replayed after an outage is inserted exactly once
  event_id uuid not null default gen_random_uuid(),
  created_at timestamptz not null default now(),
  -- byte-order comparisons for the identifiers the analytics group and sort by (and that the indexes order):
  -- the database's linguistic collation buys nothing for client ids and action names, and costs on every row
  action text collate "C" not null,
  user_id uuid,
  client_id text collate "C",
  grant_type text collate "C",
  resource_type text,
  resource_id text,
  ip_address inet,
  user_agent text,
  request_id text,
  details jsonb not null default '{}',
  -- a unique index on a partitioned table must contain the partition key
  constraint audit_logs_pkey primary key (created_at, id)
) partition by range (created_at);
alter sequence identity.audit_log_id_seq owned by identity.audit_logs.id;
-- the writer's dedup key: insert ... on conflict (event_id, created_at) do nothing
create unique index audit_logs_event_id_key on identity.audit_logs (event_id, created_at);
-- recent activity filtered by client or by user, newest first (keyset on (created_at, id))
create index audit_logs_client_id_idx on identity.audit_logs (client_id, created_at desc, id desc);
create index audit_logs_user_id_idx on identity.audit_logs (user_id, created_at desc, id desc) where user_id is not null;
alter table identity.audit_logs enable row level security;

-- rows of months without a partition (e.g. far in the past or future) until audit_ensure_partitions moves them
create table identity.audit_logs_default partition of identity.audit_logs default;
alter table identity.audit_logs_default enable row level security;

-- Settings and the sealing state, one row (the data package reads and updates the settings:
-- analytics.settings(), analytics.updateSettings()).
create table identity.token_rollup_state (
  id boolean primary key default true check (id),
  -- every UTC hour before the watermark is sealed, except the ones listed in token_rollup_dirty
  watermark timestamptz,
  -- an hour is sealed once it ended this long ago (events are batched for a fraction of a second)
  seal_grace interval not null default '2 minutes',
  -- most hours one trigger call seals when no background sealer is alive; 0: the trigger never seals
  seal_hours_per_call integer not null default 3,
  -- raw events older than this are dropped by identity.audit_apply_retention (whole months); rollups stay
  raw_retention interval not null default '400 days',
  -- monthly partitions created ahead of time by identity.audit_ensure_partitions
  partitions_ahead integer not null default 3,
  -- how far back (before its hour) a revoked access token's issuing event is looked up by jti: at least the
  -- access token lifetime (ACCESS_TOKEN_TTL_SECONDS, 900 by default); longer costs more per sealed hour
  revocation_lookback interval not null default '15 minutes',
  -- length of the per-block top-user lists
  top_k integer not null default 64,
  -- the trigger seals by itself when the background sealer has not run for this long
  sealer_timeout interval not null default '5 minutes' check (sealer_timeout > interval '0')
);
insert into identity.token_rollup_state default values;

-- The background sealer's heartbeat, a row of its own that writers only read (were it in token_rollup_state,
-- a sealing round would lock that row, and a writer sealing by trigger would wait for it or deadlock).
create table identity.token_rollup_sealer (
  id boolean primary key default true check (id),
  -- the last round of identity.token_rollup_seal_background (analytics clock); null: never
  seen_at timestamptz
);
insert into identity.token_rollup_sealer default values;

-- Hours ('h') and days ('d') whose rollups are stale: read raw (hours) or from hours (days) until resealed.
create table identity.token_rollup_dirty (
  grain text not null check (grain in ('h', 'd')),
  bucket timestamptz not null,
  primary key (grain, bucket)
);

-- Dense user ordinals, the bit positions in the user bitmaps; given when a user is first sealed.
create sequence identity.token_user_ordinal_seq as integer minvalue 0 start 0;
create table identity.token_user_ordinals (
  user_id uuid primary key,
  ordinal integer not null default nextval('identity.token_user_ordinal_seq') unique
);

-- Counts per block. all_clients: the row covers every client; otherwise client_id (null: events without one).
create table identity.token_rollup (
  grain text not null check (grain in ('q', 'h', 'd')),
  bucket timestamptz not null,
  all_clients boolean not null,
  client_id text collate "C",
  events integer not null default 0,
  issued integer not null default 0,
  issued_authorization_code integer not null default 0,
  issued_refresh_token integer not null default 0,
  issued_client_credentials integer not null default 0,
  refresh_tokens_issued integer not null default 0,
  refreshed integer not null default 0,
  failed integer not null default 0,
  userinfo integer not null default 0,
  revoked integer not null default 0,
  introspected integer not null default 0,
  -- issued lifetime (details expires_at - issued_at) of issued tokens, microseconds
  lifetime_us bigint not null default 0,
  lifetime_n integer not null default 0,
  -- actual lifetime of tokens that ended here (rotated or revoked) where the start is known, microseconds
  ended_us bigint not null default 0,
  ended_n integer not null default 0,
  -- failed attempts by reason: {"invalid_grant": 3, ...}
  failures jsonb,
  -- h/d rows per client: [[action, grant_type, count], ...] for the story's token_analytics view
  actions jsonb,
  -- h/d rows: the users (ordinals) and the tokens issued to each, packed as ordinal << 32 | count:
  -- top_list: the top_k users by count (count > 0), most first; top_tail: the largest count not in it;
  -- all_list: every user with a token event (count may be 0), by ordinal (binary search)
  top_list bigint[],
  top_tail integer,
  all_list bigint[]
);
create unique index token_rollup_key on identity.token_rollup (grain, bucket, all_clients, client_id) nulls not distinct;
-- range scans over the blocks of all clients, and of one client, that also answer the heatmap (events only)
-- from the index alone
create index token_rollup_all_clients_idx on identity.token_rollup (grain, bucket) include (events) where all_clients;
create index token_rollup_client_events_idx on identity.token_rollup (client_id, grain, bucket) include (events) where not all_clients;

-- Users seen per block (any token event), one bitmap per 65536 ordinals: hours for all clients, days and
-- weeks ('w', bucket Monday 00:00 UTC) for all clients and per client (a client's hours have
-- token_rollup.all_list instead: few users, cheaper to build). Bitmaps (8 KiB each) are stored inline.
create table identity.token_rollup_users (
  grain text not null check (grain in ('h', 'd', 'w')),
  bucket timestamptz not null,
  all_clients boolean not null,
  client_id text collate "C",
  chunk integer not null,
  members bit varying not null
);
alter table identity.token_rollup_users alter column members set storage main;
create unique index token_rollup_users_key on identity.token_rollup_users (grain, bucket, all_clients, client_id, chunk) nulls not distinct;
create index token_rollup_users_client_idx on identity.token_rollup_users (client_id, grain, bucket) where not all_clients;

-- Bitmaps and user lists lz4-compressed where the server has lz4 (pglz otherwise, e.g. PGlite).
do $$
begin
  if exists (select 1 from pg_settings where name = 'default_toast_compression' and 'lz4' = any(enumvals)) then
    execute 'alter table identity.token_rollup_users alter column members set compression lz4';
    execute 'alter table identity.token_rollup alter column all_list set compression lz4, alter column top_list set compression lz4';
  end if;
end
$$;

alter table identity.token_rollup_state enable row level security;
alter table identity.token_rollup_sealer enable row level security;
alter table identity.token_rollup_dirty enable row level security;
alter table identity.token_user_ordinals enable row level security;
alter table identity.token_rollup enable row level security;
alter table identity.token_rollup_users enable row level security;

-- A cell of raw token events (identity.token_cells): per interval (idx), quarter hour, client, user (only when
-- asked per user), action, grant and failure reason, with
--   n          events
--   rt_issued  issued responses that carried a refresh token (details.refresh_token_expires_at set)
--   life_*     issued lifetime: details.expires_at - details.issued_at (microseconds, count)
--   ended_*    actual lifetime of a token that ended: token.refreshed at created_at - details.previous_issued_at;
--              token.revoked at created_at - details.issued_at, or, for an access token (details.jti), the
--              issued_at of the token.issued.* event with that jti within revocation_lookback before its hour.
create type identity.token_cell as (
  idx integer, q timestamptz, client_id text, user_id uuid, action text, grant_type text, reason text,
  n bigint, rt_issued bigint, life_us bigint, life_n bigint, ended_us bigint, ended_n bigint
);

-- ---------------------------------------------------------------------------------------------------------
-- supabase/schemas/020_partitions.sql
-- ---------------------------------------------------------------------------------------------------------

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
