-- Fixed-window rate-limit counters shared by every instance on the same database. Instances add their
-- local counts in batches (one upsert per second at most), so the hot path does not wait for this table.
create table identity.rate_limits (
  key text not null,
  window_start timestamptz not null,
  count integer not null default 0,
  expires_at timestamptz not null,
  primary key (key, window_start)
);
create index rate_limits_expires_at_idx on identity.rate_limits (expires_at);
alter table identity.rate_limits enable row level security;
