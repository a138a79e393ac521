-- Passkeys, TOTP, recovery codes, MFA policy and amr/acr (README "Second factors and passkeys").

alter table identity.sessions add column amr text[] not null default '{pwd}';
alter table identity.sessions add column acr text not null default 'urn:idp:acr:pwd';

create table identity.webauthn_credentials (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references identity.users (id) on delete cascade,
  -- the authenticator's credential id, base64url (WebAuthn L3 caps it at 1023 bytes)
  credential_id text not null,
  -- COSE public key
  public_key bytea not null,
  sign_count bigint not null default 0,
  transports text[] not null default '{}',
  -- singleDevice (device-bound: amr hwk) or multiDevice (synced passkey: amr swk)
  device_type text not null,
  backed_up boolean not null default false,
  name text not null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  constraint webauthn_credentials_credential_id_key unique (credential_id),
  constraint webauthn_credentials_credential_id_length check (length(credential_id) <= 1366),
  constraint webauthn_credentials_name_length check (length(name) between 1 and 64),
  constraint webauthn_credentials_device_type check (device_type in ('singleDevice', 'multiDevice'))
);
create index webauthn_credentials_user_id_idx on identity.webauthn_credentials (user_id);

-- A challenge is usable once, for a few minutes, by the browser it was issued to (binding: digest of that
-- browser's CSRF token); stored as a keyed digest and deleted when redeemed.
create table identity.webauthn_challenges (
  challenge_hash text primary key,
  purpose text not null,
  -- the user a registration or second-factor challenge is for; null for a passwordless sign-in
  user_id uuid references identity.users (id) on delete cascade,
  binding text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  constraint webauthn_challenges_purpose check (purpose in ('register', 'passwordless', 'second_factor'))
);
create index webauthn_challenges_expires_at_idx on identity.webauthn_challenges (expires_at);

-- One TOTP authenticator (RFC 6238) per user; active once confirmed with a code. last_used_step is the
-- newest time step accepted: a code is accepted once, and never one older than it.
create table identity.totp_authenticators (
  user_id uuid primary key references identity.users (id) on delete cascade,
  secret_encrypted text not null,
  confirmed_at timestamptz,
  last_used_step bigint,
  created_at timestamptz not null default now()
);

-- Single-use recovery codes, shown once, kept as keyed digests.
create table identity.recovery_codes (
  code_hash text primary key,
  user_id uuid not null references identity.users (id) on delete cascade,
  created_at timestamptz not null default now(),
  used_at timestamptz
);
create index recovery_codes_user_id_idx on identity.recovery_codes (user_id);

-- Clients whose users must pass a second factor (the client flag of the MFA policy).
create table identity.clients_requiring_mfa (
  client_id text primary key references identity.oauth_clients (client_id) on delete cascade,
  created_at timestamptz not null default now()
);

-- When the MFA policy first asked a user without a second factor to enrol: MFA_ENROLMENT_GRACE_DAYS run from here.
create table identity.mfa_enrolment_requests (
  user_id uuid primary key references identity.users (id) on delete cascade,
  requested_at timestamptz not null default now()
);

-- How the user authenticated for an authorization code, and the claims the request asked for in the ID
-- token (OIDC Core 5.5); read when the code is redeemed, deleted with it.
create table identity.authorization_code_contexts (
  code_hash text primary key references identity.authorization_codes (code_hash) on delete cascade,
  amr text[] not null,
  acr text not null,
  id_token_claims text[] not null default '{}'
);

alter table identity.webauthn_credentials enable row level security;
alter table identity.webauthn_challenges enable row level security;
alter table identity.totp_authenticators enable row level security;
alter table identity.recovery_codes enable row level security;
alter table identity.clients_requiring_mfa enable row level security;
alter table identity.mfa_enrolment_requests enable row level security;
alter table identity.authorization_code_contexts enable row level security;

do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on identity.webauthn_credentials, identity.webauthn_challenges, identity.totp_authenticators, identity.recovery_codes, identity.clients_requiring_mfa, identity.mfa_enrolment_requests, identity.authorization_code_contexts from anon, authenticated';
  end if;
end
$$;
