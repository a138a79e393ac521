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

-- Statement-level triggers fire even when no row changed (e.g. the periodic purge, an idempotent revoke), so
-- each one looks at its transition table and bumps only when a row actually went or changed.
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

-- Only the columns userinfo releases: logins (failed_login_count, locked_until, updated_at) must not bump it.
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

alter table identity.revocation_epoch enable row level security;

-- On Supabase: the API roles get nothing here either (no-op on plain Postgres, where they don't exist).
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on identity.revocation_epoch from anon, authenticated';
    execute 'revoke all on all functions in schema identity from anon, authenticated';
  end if;
end
$$;
