-- Audit events the database refused for a reason that retrying cannot fix (a data, size, constraint or
-- programming error: SQLSTATE classes 22, 23, 42, 54...). The audit writer isolates such rows from their
-- batch (bisection) and keeps them here with the error, so the rest of the batch and every later event are
-- written instead of queueing behind them forever. `event` is the event as the writer holds it, already
-- sanitised (bounded strings, no NUL), so this row can be stored where the audit_logs row could not.
-- One row per event: a batch retried after a transient failure meets its dead letters again and only
-- bumps failures/last_failed_at.
create table identity.audit_dead_letters (
  id bigint generated always as identity primary key,
  event_id uuid not null,
  event jsonb not null,
  error_code text,
  error_message text,
  failures integer not null default 1,
  first_failed_at timestamptz not null default now(),
  last_failed_at timestamptz not null default now()
);
create unique index audit_dead_letters_event_id_key on identity.audit_dead_letters (event_id);
create index audit_dead_letters_first_failed_at_idx on identity.audit_dead_letters (first_failed_at);
alter table identity.audit_dead_letters enable row level security;

-- On Supabase the API roles get nothing here either (no-op on plain Postgres)
do $$
begin
  if exists (select 1 from pg_roles where rolname = 'anon') then
    execute 'revoke all on identity.audit_dead_letters from anon, authenticated';
  end if;
end
$$;
