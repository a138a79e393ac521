-- Signing key lifecycle (README "Signing key rotation"): a `next` state for keys published ahead of their
-- activation, and `activates_at`, the database time at which a key starts signing on every instance.
-- Existing keys were active from their creation.
alter table identity.signing_keys add column activates_at timestamptz not null default now();
update identity.signing_keys set activates_at = created_at;
update identity.signing_keys set retiring_since = greatest(retiring_since, activates_at) where retiring_since is not null;
update identity.signing_keys set retire_after = greatest(retire_after, retiring_since) where retiring_since is not null;
alter table identity.signing_keys drop constraint signing_keys_state;
alter table identity.signing_keys add constraint signing_keys_state check (state in ('next', 'active', 'retiring', 'retired'));
alter table identity.signing_keys add constraint signing_keys_retirement_order
  check (retiring_since is null or (retiring_since >= activates_at and retire_after >= retiring_since));
create unique index signing_keys_one_next_per_alg on identity.signing_keys (alg) where state = 'next';
