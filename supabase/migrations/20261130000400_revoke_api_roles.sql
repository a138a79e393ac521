-- Baseline: nothing for Supabase's API roles.
--
-- The pre-release migrations were squashed on 1 December 2026 into four baselines; this one holds the
-- statements of supabase/schemas/{090_api_roles.sql}
-- as they were then. Like every migration it never changes once applied (checksummed): a schema change edits
-- supabase/schemas/ and adds a forward migration (see supabase/schemas/001_accounts.sql).

-- ---------------------------------------------------------------------------------------------------------
-- supabase/schemas/090_api_roles.sql
-- ---------------------------------------------------------------------------------------------------------

-- On Supabase: the API roles get nothing in this schema (a no-op on plain Postgres and PGlite, where they do
-- not exist). Last, because "all tables/sequences/functions" means those that exist: a forward migration
-- that creates an object repeats the revoke for it.
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on schema identity from anon, authenticated';
    execute 'revoke all on all tables in schema identity from anon, authenticated';
    execute 'revoke all on all sequences in schema identity from anon, authenticated';
    execute 'revoke all on all functions in schema identity from anon, authenticated';
  end if;
end
$$;
