-- Account recovery and e-mail: password-reset and e-mail-verification links, and the outgoing mail queue
-- (README "Password reset and e-mail verification").
--
-- A link carries a 256-bit random token; only its keyed digest (HMAC, KEY_ENCRYPTION_SECRET) is stored. A
-- token is single use (consumed by a delete), short-lived, and bound to what it acts on: `binding` is
-- sha256(token digest || ':' || the user's password hash) for a reset, or || the lower-cased address for a
-- verification, computed in SQL when the link is made and again when it is used. A password change (or a
-- changed address) therefore kills every link made before it, without a sweep.
create table identity.account_tokens (
  token_hash text primary key,
  user_id uuid not null references identity.users (id) on delete cascade,
  purpose text not null,
  binding text not null,
  created_at timestamptz not null,
  expires_at timestamptz not null,
  constraint account_tokens_purpose check (purpose in ('password_reset', 'email_verification')),
  constraint account_tokens_hash_length check (length(token_hash) <= 64)
);
create index account_tokens_user_id_idx on identity.account_tokens (user_id, purpose);
create index account_tokens_expires_at_idx on identity.account_tokens (expires_at);

-- Outgoing mail, delivered by the provider's mail worker with retries and back-off. The message (recipient,
-- subject, text and HTML, which hold the link) is sealed with AES-256-GCM under a key derived from
-- KEY_ENCRYPTION_SECRET, and dropped once the message is sent or has failed for good: the table never holds
-- a usable link or an address in the clear. `last_error` is the transport's error code, never the message.
create table identity.mail_queue (
  id uuid primary key default gen_random_uuid(),
  template text not null,
  user_id uuid references identity.users (id) on delete cascade,
  message_encrypted text,
  status text not null default 'queued',
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  -- a worker that claimed the row; another may take it over after this time (crash)
  locked_until timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  constraint mail_queue_status check (status in ('queued', 'sent', 'failed')),
  constraint mail_queue_template check (template in ('password_reset', 'email_verification')),
  constraint mail_queue_error_length check (length(last_error) <= 200),
  constraint mail_queue_message_while_queued check (status = 'queued' or message_encrypted is null)
);
create index mail_queue_due_idx on identity.mail_queue (next_attempt_at) where status = 'queued';
create index mail_queue_created_at_idx on identity.mail_queue (created_at);

alter table identity.account_tokens enable row level security;
alter table identity.mail_queue enable row level security;
