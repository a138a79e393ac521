-- Admin console: disabled clients, the previous secret during a rotation's grace period, keyset indexes
-- of the admin lists (supabase/schemas/006_admin.sql).
alter table identity.oauth_clients
  add column disabled_at timestamptz,
  add column previous_secret_hash text,
  add column previous_secret_expires_at timestamptz,
  add constraint oauth_clients_previous_secret_expiry check ((previous_secret_hash is null) = (previous_secret_expires_at is null)),
  add constraint oauth_clients_previous_secret_confidential check (previous_secret_hash is null or token_endpoint_auth_method <> 'none');

-- keyset pages of the admin lists, newest first
create index oauth_clients_created_at_idx on identity.oauth_clients (created_at desc, client_id desc);
create index users_created_at_idx on identity.users (created_at desc, id desc);
create index token_families_client_created_idx on identity.token_families (client_id, created_at desc, id desc);
create index token_families_user_created_idx on identity.token_families (user_id, created_at desc, id desc);
