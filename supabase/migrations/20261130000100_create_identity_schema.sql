-- Baseline: users, OAuth clients, signing keys, sessions, consents, grants, rate limits, the revocation epoch.
--
-- The pre-release migrations were squashed on 1 December 2026 into four baselines; this one holds the
-- statements of supabase/schemas/{001_accounts.sql, 002_grants.sql, 003_rate_limits.sql, 004_revocation_epoch.sql}
-- as they were then. Like every migration it never changes once applied (checksummed): a schema change edits
-- supabase/schemas/ and adds a forward migration (see supabase/schemas/001_accounts.sql).

-- ---------------------------------------------------------------------------------------------------------
-- supabase/schemas/001_accounts.sql
-- ---------------------------------------------------------------------------------------------------------

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
  constraint oauth_clients_auth_method check (token_endpoint_auth_method in ('client_secret_basic', 'client_secret_post', 'none')),
  constraint oauth_clients_public_has_no_secret check ((token_endpoint_auth_method = 'none') = (client_secret_hash is null)),
  constraint oauth_clients_grant_types check (grant_types <@ array['authorization_code', 'refresh_token', 'client_credentials']),
  constraint oauth_clients_id_token_alg check (id_token_signed_response_alg in ('RS256', 'ES256'))
);

create table identity.signing_keys (
  kid text primary key,
  alg text not null,
  public_jwk jsonb not null,
  -- AES-256-GCM with a key derived from KEY_ENCRYPTION_SECRET
  private_key_encrypted text not null,
  state text not null default 'active',
  created_at timestamptz not null default now(),
  -- set when a newer key takes over; the key stays published until retire_after
  retiring_since timestamptz,
  retire_after timestamptz,
  constraint signing_keys_alg check (alg in ('RS256', 'ES256')),
  constraint signing_keys_state check (state in ('active', 'retiring', 'retired'))
);
-- at most one active key per algorithm
create unique index signing_keys_one_active_per_alg on identity.signing_keys (alg) where state = 'active';

alter table identity.users enable row level security;
alter table identity.oauth_clients enable row level security;
alter table identity.signing_keys enable row level security;

-- ---------------------------------------------------------------------------------------------------------
-- supabase/schemas/002_grants.sql
-- ---------------------------------------------------------------------------------------------------------

-- Sessions, consents and OAuth grants: token families with their authorization codes and refresh tokens,
-- and individually revoked access tokens. Codes and refresh tokens are stored only as HMAC-SHA256 digests
-- (SecretBox.digest), so a copy of the database yields no usable credential.

-- Browser sessions. The sid travels inside a sealed cookie and grants nothing by itself, so it is stored as is.
create table identity.sessions (
  sid text primary key,
  user_id uuid not null references identity.users (id) on delete cascade,
  auth_time timestamptz not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  ip_address inet,
  user_agent text
);
create index sessions_user_id_idx on identity.sessions (user_id);
-- active-session count and purge
create index sessions_live_expires_at_idx on identity.sessions (expires_at) where revoked_at is null;

create table identity.consents (
  user_id uuid not null references identity.users (id) on delete cascade,
  client_id text not null references identity.oauth_clients (client_id) on delete cascade,
  scopes text[] not null,
  granted_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (user_id, client_id)
);
create index consents_client_id_idx on identity.consents (client_id);

-- One family = one grant: an authorization code and every access and refresh token descending from it.
-- Revoking the family kills all of them at once (code replay, refresh-token reuse). Deleting the user or
-- the client deletes its families, which ends their tokens too.
create table identity.token_families (
  id uuid primary key default gen_random_uuid(),
  client_id text not null references identity.oauth_clients (client_id) on delete cascade,
  user_id uuid references identity.users (id) on delete cascade,
  -- no foreign key: offline refresh tokens outlive the browser session they started in
  sid text,
  scope text[] not null,
  auth_time timestamptz,
  created_at timestamptz not null default now(),
  revoked_at timestamptz,
  revoked_reason text,
  constraint token_families_revoked_reason check ((revoked_at is null) = (revoked_reason is null))
);
create index token_families_client_id_idx on identity.token_families (client_id);
create index token_families_user_id_idx on identity.token_families (user_id);

create table identity.authorization_codes (
  code_hash text primary key,
  family_id uuid not null references identity.token_families (id) on delete cascade,
  client_id text not null,
  user_id uuid not null,
  sid text,
  redirect_uri text not null,
  scope text[] not null,
  nonce text,
  code_challenge text,
  code_challenge_method text,
  auth_time timestamptz not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  -- set by the one redemption that wins; a later attempt is a replay
  consumed_at timestamptz,
  -- PKCE with S256 only (plain is not allowed, RFC 9700 2.1.1)
  constraint authorization_codes_pkce check (
    (code_challenge is null and code_challenge_method is null)
    or (code_challenge is not null and code_challenge_method = 'S256')
  )
);
create index authorization_codes_family_id_idx on identity.authorization_codes (family_id);
create index authorization_codes_expires_at_idx on identity.authorization_codes (expires_at);

create table identity.refresh_tokens (
  token_hash text primary key,
  family_id uuid not null references identity.token_families (id) on delete cascade,
  client_id text not null,
  user_id uuid,
  scope text[] not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  -- set when exchanged for a successor; presenting it again is reuse (RFC 9700 4.14)
  rotated_at timestamptz
);
create index refresh_tokens_family_id_idx on identity.refresh_tokens (family_id);
create index refresh_tokens_expires_at_idx on identity.refresh_tokens (expires_at);

-- Individually revoked JWT access tokens; a row is useless (and purgeable) once the token has expired.
create table identity.revoked_tokens (
  jti text primary key,
  expires_at timestamptz not null,
  revoked_at timestamptz not null default now()
);
create index revoked_tokens_expires_at_idx on identity.revoked_tokens (expires_at);

alter table identity.sessions enable row level security;
alter table identity.consents enable row level security;
alter table identity.token_families enable row level security;
alter table identity.authorization_codes enable row level security;
alter table identity.refresh_tokens enable row level security;
alter table identity.revoked_tokens enable row level security;

-- ---------------------------------------------------------------------------------------------------------
-- supabase/schemas/003_rate_limits.sql
-- ---------------------------------------------------------------------------------------------------------

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

-- ---------------------------------------------------------------------------------------------------------
-- supabase/schemas/004_revocation_epoch.sql
-- ---------------------------------------------------------------------------------------------------------

-- A counter that moves whenever an access token may have stopped being valid or its subject's claims changed.
-- Instances keep userinfo/introspection answers in memory and drop them all when the counter moves, so the
-- hot path costs one tiny read per poll instead of a query per request. The bump happens in the same
-- transaction as the change: a reader that sees the new value also sees the change.
create table identity.revocation_epoch (
  id boolean primary key default true,
  epoch bigint not null default 0,
  constraint revocation_epoch_one_row check (id)
);
insert into identity.revocation_epoch default values;
alter table identity.revocation_epoch enable row level security;

-- Trigger function: bumps identity.revocation_epoch when the statement's transition table (changed_rows)
-- holds a row (a revoked access token inserted, a family or user deleted). Statement-level triggers fire even
-- when no row changed (the periodic purge, an idempotent revoke), hence the check.
-- Called by: the revoked_tokens, token_families and users triggers below.
-- Concurrency: the bump is an update of the one epoch row in the writer's transaction, so a reader that sees
-- the new epoch also sees the change; concurrent revocations serialise on that row.
create function identity.bump_revocation_epoch_on_rows() returns trigger
language plpgsql
as $$
begin
  if exists (select 1 from changed_rows) then
    update identity.revocation_epoch set epoch = epoch + 1;
  end if;
  return null;
end
$$;

-- Trigger function: bumps the epoch when an update revoked a token family (revoked_at went from null to set).
-- Called by: token_families_revoked_revocation_epoch. Concurrency: as bump_revocation_epoch_on_rows.
create function identity.bump_revocation_epoch_on_family_revoked() returns trigger
language plpgsql
as $$
begin
  if exists (select 1 from new_rows n join old_rows o using (id) where o.revoked_at is null and n.revoked_at is not null) then
    update identity.revocation_epoch set epoch = epoch + 1;
  end if;
  return null;
end
$$;

-- Trigger function: bumps the epoch when an update changed a claim userinfo releases (email, names,
-- email_verified); logins (failed_login_count, locked_until, updated_at) must not bump it.
-- Called by: users_claims_revocation_epoch. Concurrency: as bump_revocation_epoch_on_rows.
create function identity.bump_revocation_epoch_on_user_claims() returns trigger
language plpgsql
as $$
begin
  if exists (select id, email, email_verified, name, given_name, family_name from new_rows
             except
             select id, email, email_verified, name, given_name, family_name from old_rows) then
    update identity.revocation_epoch set epoch = epoch + 1;
  end if;
  return null;
end
$$;

create trigger revoked_tokens_revocation_epoch after insert on identity.revoked_tokens
  referencing new table as changed_rows
  for each statement execute function identity.bump_revocation_epoch_on_rows();

create trigger token_families_revoked_revocation_epoch after update on identity.token_families
  referencing old table as old_rows new table as new_rows
  for each statement execute function identity.bump_revocation_epoch_on_family_revoked();

create trigger token_families_deleted_revocation_epoch after delete on identity.token_families
  referencing old table as changed_rows
  for each statement execute function identity.bump_revocation_epoch_on_rows();

create trigger users_claims_revocation_epoch after update on identity.users
  referencing old table as old_rows new table as new_rows
  for each statement execute function identity.bump_revocation_epoch_on_user_claims();

create trigger users_deleted_revocation_epoch after delete on identity.users
  referencing old table as changed_rows
  for each statement execute function identity.bump_revocation_epoch_on_rows();
