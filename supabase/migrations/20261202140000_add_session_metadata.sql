-- Session metadata for the account page: when each session was last seen, and a bound on the stored
-- user agent (the data layer already cut it to 512 characters, so existing rows satisfy the check).
alter table identity.sessions add column last_seen_at timestamptz;
update identity.sessions set last_seen_at = created_at;
alter table identity.sessions alter column last_seen_at set default now();
alter table identity.sessions alter column last_seen_at set not null;
alter table identity.sessions add constraint sessions_user_agent_length check (char_length(user_agent) <= 512);
