-- Sessions, consents and OAuth grants: token families with their authorization codes and refresh tokens,
-- and individually revoked access tokens. Codes and refresh tokens are stored only as HMAC-SHA256 digests
-- (SecretBox.digest), so a copy of the database yields no usable credential.

-- Browser sessions. The sid travels inside a sealed cookie and grants nothing by itself, so it is stored as is.
-- ip_address and user_agent are the sign-in's (shown on the account page); last_seen_at moves when the
-- session is looked up, at most once a minute (sessions.findActive), so reads do not turn into writes.
create table identity.sessions (
  sid text primary key,
  user_id uuid not null references identity.users (id) on delete cascade,
  auth_time timestamptz not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  ip_address inet,
  user_agent text,
  last_seen_at timestamptz not null default now(),
  -- how the user authenticated (RFC 8176 values) and the resulting level (README "acr ladder"); mfa helper
  amr text[] not null default '{pwd}',
  acr text not null default 'urn:idp:acr:pwd',
  -- the header is attacker-controlled: the data layer cuts it, the table refuses anything longer
  constraint sessions_user_agent_length check (char_length(user_agent) <= 512)
);
-- the account page: a user's live sessions, most recently seen first
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
  -- RFC 8707: the resource servers granted at the authorization endpoint; empty: the default audience
  resources text[] not null default '{}',
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
