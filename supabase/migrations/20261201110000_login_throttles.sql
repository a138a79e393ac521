-- Login protection without account lockout (README "Login protection"). Failed sign-ins are counted per
-- source: (account, client IP) and (account, recognised device), each under a keyed digest, so the table
-- holds no e-mail address, IP or device id. A source that keeps failing waits longer and longer; other
-- sources, and the owner's recognised devices, are not affected. One row per account (digest of the login
-- name, known or not) is a fixed-window backstop that throttles only unrecognised devices.
create table identity.login_throttles (
  throttle_key text primary key,
  failures integer not null,
  window_started_at timestamptz not null,
  -- per source: no attempt is checked before this time (growing delay); null while under the free failures
  blocked_until timestamptz,
  -- per source: failures are forgotten this long after the last one; backstop: the end of its window
  expires_at timestamptz not null,
  constraint login_throttles_key_length check (length(throttle_key) <= 64)
);
create index login_throttles_expires_at_idx on identity.login_throttles (expires_at);

-- Browsers that signed in to an account before: a random id in a long-lived HttpOnly cookie, stored only
-- as a keyed digest of (account, device id).
create table identity.login_devices (
  device_key text primary key,
  user_id uuid not null references identity.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  expires_at timestamptz not null,
  constraint login_devices_key_length check (length(device_key) <= 64)
);
create index login_devices_user_id_idx on identity.login_devices (user_id);
create index login_devices_expires_at_idx on identity.login_devices (expires_at);

alter table identity.login_throttles enable row level security;
alter table identity.login_devices enable row level security;

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on identity.login_throttles from anon, authenticated';
    execute 'revoke all on identity.login_devices from anon, authenticated';
  end if;
end
$$;
