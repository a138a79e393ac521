-- Core identity schema: users, OAuth clients, signing keys.
-- Everything lives in the `identity` schema, which Supabase's Data API does not expose; RLS is enabled
-- as well with no policies, so even if the schema were exposed, anon and authenticated could read nothing.

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

-- The audit trail (names from the token-audit story). user_id has no foreign key on purpose:
-- the trail must outlive the accounts it mentions.
create table identity.audit_logs (
  id bigint generated always as identity primary key,
  -- client-generated, so a spooled event replayed after an outage is inserted exactly once
  event_id uuid not null default gen_random_uuid(),
  created_at timestamptz not null default now(),
  action text not null,
  user_id uuid,
  client_id text,
  grant_type text,
  resource_type text,
  resource_id text,
  ip_address inet,
  user_agent text,
  request_id text,
  details jsonb not null default '{}'
);
create unique index audit_logs_event_id_key on identity.audit_logs (event_id);
create index audit_logs_created_at_idx on identity.audit_logs (created_at desc, id desc);

-- Daily token activity by action, client and grant (story name and columns). Days are UTC days.
create view identity.token_analytics as
select
  (created_at at time zone 'UTC')::date as date,
  action,
  client_id,
  grant_type,
  count(*) as count
from identity.audit_logs
where action like 'token.%'
group by 1, 2, 3, 4;

-- Token totals for a time range, optionally for one client (story signature and meaning).
create function identity.get_token_stats(
  p_start_date timestamptz,
  p_end_date timestamptz,
  p_client_id text default null
)
returns table (
  total_issued bigint,
  total_refreshed bigint,
  total_failed bigint,
  unique_users bigint,
  unique_clients bigint
)
language sql
stable
as $$
  select
    count(*) filter (where action like 'token.issued.%'),
    count(*) filter (where action = 'token.refreshed'),
    count(*) filter (where action like 'token.%failed%'),
    count(distinct user_id),
    count(distinct client_id)
  from identity.audit_logs
  where action like 'token.%'
    and created_at >= p_start_date
    and created_at <= p_end_date
    and (p_client_id is null or client_id = p_client_id);
$$;

alter table identity.users enable row level security;
alter table identity.oauth_clients enable row level security;
alter table identity.signing_keys enable row level security;
alter table identity.audit_logs enable row level security;
revoke all on function identity.get_token_stats(timestamptz, timestamptz, text) from public;

-- On Supabase: the API roles get nothing in this schema (no-op on plain Postgres, where they don't exist).
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on schema identity from anon, authenticated';
    execute 'revoke all on all tables in schema identity from anon, authenticated';
    execute 'revoke all on all functions in schema identity from anon, authenticated';
  end if;
end
$$;
