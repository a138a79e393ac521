-- The declared schema of the identity provider: every current definition of the `identity` schema, once.
--
-- supabase/schemas/*.sql, applied in lexical order to an empty database, produce exactly the schema that
-- supabase/migrations produce (packages/database-identity/test/contract/schema-drift.test.ts compares the
-- two catalogs on PGlite and Postgres). To change the schema:
--   1. edit the definition here (the file of its concern; a new object where it belongs), and
--   2. add a forward migration, supabase/migrations/<UTC timestamp>_<verb>_<noun>.sql, that takes an existing
--      database from the old definition to the new one (create or replace function ..., alter table ...,
--      data moved as needed). `supabase db diff -f <verb>_<noun>` can draft it from these files (it misses
--      seeded rows, DO blocks and revokes: write those by hand).
-- Never edit an applied migration (the runner checksums them). The drift test fails until both agree.
--
-- Everything lives in the `identity` schema, which Supabase's Data API does not expose; row level security
-- is enabled on every table with no policies, and the API roles are revoked (090_api_roles.sql), so even if
-- the schema were exposed, anon and authenticated could read nothing. The runner's own ledger,
-- identity.schema_migrations, is created by packages/database-identity/src/migrate.ts, not here.
--
-- This file: users, OAuth clients, signing keys.

create schema if not exists identity;

create table identity.users (
  id uuid primary key default gen_random_uuid(),
  email text not null,
  email_verified boolean not null default false,
  name text,
  given_name text,
  family_name text,
  -- scrypt (memory-hard) hash; never the password
  password_hash text not null,
  roles text[] not null default '{}',
  must_change_password boolean not null default false,
  failed_login_count integer not null default 0,
  locked_until timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint users_email_format check (position('@' in email) > 1)
);
-- case-insensitive uniqueness: Alice@x and alice@x are one account
create unique index users_email_lower_key on identity.users (lower(email));

create table identity.oauth_clients (
  client_id text primary key,
  -- HMAC-SHA256 digest of a 256-bit random secret; null for public clients
  client_secret_hash text,
  name text not null,
  redirect_uris text[] not null default '{}',
  post_logout_redirect_uris text[] not null default '{}',
  grant_types text[] not null default '{authorization_code,refresh_token}',
  scopes text[] not null default '{openid,profile,email,offline_access}',
  token_endpoint_auth_method text not null default 'client_secret_basic',
  id_token_signed_response_alg text not null default 'RS256',
  first_party boolean not null default false,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  -- alg of access tokens with the default audience; null: the provider's default (ES256). A resource
  -- server's own alg wins for tokens issued for it.
  access_token_signed_response_alg text,
  constraint oauth_clients_auth_method check (token_endpoint_auth_method in ('client_secret_basic', 'client_secret_post', 'none')),
  constraint oauth_clients_public_has_no_secret check ((token_endpoint_auth_method = 'none') = (client_secret_hash is null)),
  constraint oauth_clients_grant_types check (grant_types <@ array['authorization_code', 'refresh_token', 'client_credentials']),
  constraint oauth_clients_id_token_alg check (id_token_signed_response_alg in ('RS256', 'ES256')),
  constraint oauth_clients_access_token_alg check (access_token_signed_response_alg in ('RS256', 'ES256'))
);

-- Signing keys, one lifecycle per algorithm (README "Signing key rotation"): next (published in the JWKS, not
-- signing) -> active -> retiring (published, not signing, until every token it signed has expired) -> retired.
-- Which key signs is decided by the times, read against the database clock, so every instance switches at
-- the same moment: a key signs from activates_at until its successor's activates_at (retiring_since). `state`
-- is the last transition the rotation job recorded (and audited); readers derive the current one from the times.
create table identity.signing_keys (
  kid text primary key,
  alg text not null,
  public_jwk jsonb not null,
  -- AES-256-GCM with a key derived from KEY_ENCRYPTION_SECRET
  private_key_encrypted text not null,
  state text not null default 'active',
  created_at timestamptz not null default now(),
  -- set when a successor is scheduled: its activates_at; the key stays published until retire_after
  retiring_since timestamptz,
  retire_after timestamptz,
  -- when the key starts signing: at least the JWKS max-age plus a margin after it was first published
  activates_at timestamptz not null default now(),
  constraint signing_keys_alg check (alg in ('RS256', 'ES256')),
  constraint signing_keys_state check (state in ('next', 'active', 'retiring', 'retired')),
  constraint signing_keys_retirement_order check (retiring_since is null or (retiring_since >= activates_at and retire_after >= retiring_since))
);
-- at most one active key and one scheduled successor per algorithm
create unique index signing_keys_one_active_per_alg on identity.signing_keys (alg) where state = 'active';
create unique index signing_keys_one_next_per_alg on identity.signing_keys (alg) where state = 'next';

alter table identity.users enable row level security;
alter table identity.oauth_clients enable row level security;
alter table identity.signing_keys enable row level security;

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
