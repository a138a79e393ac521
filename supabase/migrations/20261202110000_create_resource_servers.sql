-- Resource servers (RFC 8707), per-client access-token alg, resources granted with a token family.
create table identity.resource_servers (
  -- absolute URI without fragment (RFC 8707 2); the `aud` of its tokens
  identifier text primary key,
  name text not null,
  -- the scopes this API defines: requestable only together with resource=<identifier>
  scopes text[] not null default '{}',
  -- access-token lifetime for this API; null: ACCESS_TOKEN_TTL_SECONDS
  access_token_ttl_seconds integer,
  signing_alg text not null default 'RS256',
  -- clients that may request tokens for this API (no foreign key: a deleted client simply matches nothing)
  allowed_client_ids text[] not null default '{}',
  -- static claims added to every token for this API (never registered claims: checked by the data layer)
  extra_claims jsonb not null default '{}',
  -- a Supabase project: tokens carry `role` = supabase_role and `supabase_audience` in `aud`; null otherwise
  supabase_role text,
  supabase_audience text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint resource_servers_identifier_length check (length(identifier) between 1 and 512),
  constraint resource_servers_alg check (signing_alg in ('RS256', 'ES256')),
  constraint resource_servers_ttl check (access_token_ttl_seconds is null or access_token_ttl_seconds between 60 and 86400),
  constraint resource_servers_extra_claims_object check (jsonb_typeof(extra_claims) = 'object'),
  constraint resource_servers_supabase check ((supabase_role is null) = (supabase_audience is null))
);

alter table identity.resource_servers enable row level security;

alter table identity.oauth_clients add column access_token_signed_response_alg text;
alter table identity.oauth_clients add constraint oauth_clients_access_token_alg
  check (access_token_signed_response_alg in ('RS256', 'ES256'));

alter table identity.token_families add column resources text[] not null default '{}';

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on identity.resource_servers from anon, authenticated';
  end if;
end
$$;
