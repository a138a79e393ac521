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
