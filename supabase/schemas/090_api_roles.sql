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
