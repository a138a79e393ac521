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
  -- the issued token's audience (RFC 8707 resource): the resource server's identifier, or for a token for
  -- several the sorted identifiers joined by one space; null: the provider's default audience
  audience text collate "C",
  -- a unique index on a partitioned table must contain the partition key
  constraint audit_logs_pkey primary key (created_at, id)
) partition by range (created_at);
alter sequence identity.audit_log_id_seq owned by identity.audit_logs.id;
-- the writer's dedup key: insert ... on conflict (event_id, created_at) do nothing
create unique index audit_logs_event_id_key on identity.audit_logs (event_id, created_at);
-- recent activity filtered by client or by user, newest first (keyset on (created_at, id))
create index audit_logs_client_id_idx on identity.audit_logs (client_id, created_at desc, id desc);
create index audit_logs_user_id_idx on identity.audit_logs (user_id, created_at desc, id desc) where user_id is not null;
-- recent activity filtered by API (only the events that name one: the default audience is the common case)
create index audit_logs_audience_idx on identity.audit_logs (audience, created_at desc, id desc) where audience is not null;
alter table identity.audit_logs enable row level security;

-- rows of months without a partition (e.g. far in the past or future) until audit_ensure_partitions moves them
create table identity.audit_logs_default partition of identity.audit_logs default;
alter table identity.audit_logs_default enable row level security;

-- Audit events the database refused for a reason retrying cannot fix (data, size, constraint or programming
-- errors: SQLSTATE 22, 23, 42, 54...). The audit writer isolates them from their batch (bisection) and keeps
-- them here with the error, so the rest of the batch and every later event are written. `event` is already
-- sanitised (bounded strings, no NUL). One row per event: meeting it again bumps failures/last_failed_at.
create table identity.audit_dead_letters (
  id bigint generated always as identity primary key,
  event_id uuid not null,
  event jsonb not null,
  error_code text,
  error_message text,
  failures integer not null default 1,
  first_failed_at timestamptz not null default now(),
  last_failed_at timestamptz not null default now()
);
create unique index audit_dead_letters_event_id_key on identity.audit_dead_letters (event_id);
create index audit_dead_letters_first_failed_at_idx on identity.audit_dead_letters (first_failed_at);
alter table identity.audit_dead_letters enable row level security;

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
-- audience (the "by API" dimension): '*' the row covers every audience; '' the provider's default audience
-- (events without one); otherwise that audience (identity.token_audience).
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
  all_list bigint[],
  audience text collate "C" not null default '*'
);
create unique index token_rollup_key on identity.token_rollup (grain, bucket, all_clients, client_id, audience) nulls not distinct;
-- range scans over the blocks of all clients, and of one client, for every audience ('*') or one, that also
-- answer the heatmap (events only) from the index alone
create index token_rollup_all_clients_idx on identity.token_rollup (audience, grain, bucket) include (events) where all_clients;
create index token_rollup_client_events_idx on identity.token_rollup (client_id, audience, grain, bucket) include (events) where not all_clients;
-- the "by API" breakdown: every audience's blocks of all clients in a range
create index token_rollup_audiences_idx on identity.token_rollup (grain, bucket) where all_clients and audience <> '*';

-- Users seen per block (any token event), one bitmap per 65536 ordinals: hours for all clients and every
-- audience, days and weeks ('w', bucket Monday 00:00 UTC) for all clients and per client, each for every
-- audience ('*') and per audience (as token_rollup.audience; a client's or an audience's hours have
-- token_rollup.all_list instead: few users, cheaper to build). Bitmaps (8 KiB each) are stored inline.
create table identity.token_rollup_users (
  grain text not null check (grain in ('h', 'd', 'w')),
  bucket timestamptz not null,
  all_clients boolean not null,
  client_id text collate "C",
  chunk integer not null,
  members bit varying not null,
  audience text collate "C" not null default '*'
);
alter table identity.token_rollup_users alter column members set storage main;
create unique index token_rollup_users_key on identity.token_rollup_users (grain, bucket, all_clients, client_id, audience, chunk) nulls not distinct;
create index token_rollup_users_client_idx on identity.token_rollup_users (client_id, audience, grain, bucket) where not all_clients;

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
-- asked per user), action, grant, failure reason and audience (only when asked per audience), with
--   n          events
--   rt_issued  issued responses that carried a refresh token (details.refresh_token_expires_at set)
--   life_*     issued lifetime: details.expires_at - details.issued_at (microseconds, count)
--   ended_*    actual lifetime of a token that ended: token.refreshed at created_at - details.previous_issued_at;
--              token.revoked at created_at - details.issued_at, or, for an access token (details.jti), the
--              issued_at of the token.issued.* event with that jti within revocation_lookback before its hour.
create type identity.token_cell as (
  idx integer, q timestamptz, client_id text, user_id uuid, action text, grant_type text, reason text,
  n bigint, rt_issued bigint, life_us bigint, life_n bigint, ended_us bigint, ended_n bigint, audience text
);
