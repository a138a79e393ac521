/**
 * Prometheus metrics for the identity provider.
 *
 * Metric names and label sets are a contract with monitoring/ (alert rules,
 * Grafana dashboard, monitoring/check-dashboard.mjs): change them together.
 *
 * Why every label is bounded: each distinct label combination is a separate
 * time series kept in memory here and in Prometheus. A label fed from request
 * input (a client_id, an error string, a user name) would let any caller create
 * unbounded series and exhaust memory, and could leak PII into monitoring.
 * So every label value comes from a fixed union type below, is checked again
 * at runtime (values that slipped past the type system become "other"), and
 * client_id is only used verbatim for clients that are registered, everything
 * else is reported as "other". No user ids, e-mail addresses or tokens are
 * ever used as label values.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OAuthErrorCode } from '../oidc/errors';

export const LOGIN_RESULTS = ['success', 'failure', 'locked'] as const;
export type LoginResult = (typeof LOGIN_RESULTS)[number];

export const LOGIN_METHODS = ['password'] as const;
export type LoginMethod = (typeof LOGIN_METHODS)[number];

export const AUTH_OPERATIONS = ['login', 'authorize', 'token', 'userinfo', 'introspect', 'revoke', 'logout'] as const;
export type AuthOperation = (typeof AUTH_OPERATIONS)[number];

export const REFRESH_RESULTS = ['success', 'failure', 'reuse_detected'] as const;
export type RefreshResult = (typeof REFRESH_RESULTS)[number];

/** The `error_type` label's values: the codes of lib/oidc/errors.ts worth a series of their own; others count as `other`. */
export const OAUTH_ERROR_CODES = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
  'invalid_token',
  'insufficient_scope',
  'access_denied',
  'login_required',
  'consent_required',
  'server_error',
  'temporarily_unavailable',
] as const satisfies readonly OAuthErrorCode[];
export type { OAuthErrorCode };

export const OAUTH_STEPS = ['authorize', 'token', 'userinfo', 'revoke', 'introspect', 'logout'] as const;
export type OAuthStep = (typeof OAUTH_STEPS)[number];

export const OAUTH_RESULTS = ['success', 'failure'] as const;
export type OAuthResult = (typeof OAUTH_RESULTS)[number];

export const PASSWORD_EVENTS = ['forced_change_required', 'password_changed', 'reset_requested', 'reset_completed', 'reset_failed'] as const;
export type PasswordEvent = (typeof PASSWORD_EVENTS)[number];

export const MAIL_TEMPLATES = ['password_reset', 'email_verification'] as const;
export type MailTemplateLabel = (typeof MAIL_TEMPLATES)[number];
/** `retry`: an attempt failed and the message waits for the next one; `failed`: given up on. */
export const MAIL_RESULTS = ['sent', 'retry', 'failed'] as const;
export type MailResult = (typeof MAIL_RESULTS)[number];

export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export const TOKEN_REUSE_KINDS = ['refresh_token', 'authorization_code'] as const;
export type TokenReuseKind = (typeof TOKEN_REUSE_KINDS)[number];

export const RATE_LIMITED_ENDPOINTS = ['login', 'token', 'password_change', 'password_reset', 'email_verification'] as const;
export type RateLimitedEndpoint = (typeof RATE_LIMITED_ENDPOINTS)[number];

/** Lifecycle states of a published signing key, and the signing algorithms (lib/oidc/keys.ts). */
export const SIGNING_KEY_STATES = ['next', 'active', 'retiring'] as const;
export type SigningKeyState = (typeof SIGNING_KEY_STATES)[number];
export const SIGNING_ALGS = ['RS256', 'ES256'] as const;

/** Label value used for anything outside the fixed sets (incl. unregistered clients). */
export const OTHER_LABEL = 'other';

/** Seconds; 0.005..10 with a bucket at 2 s so the "p95 login > 2 s" alert is exact. */
export const LATENCY_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 2.5, 5, 10];

export interface CreateMetricsOptions {
  /** Client ids allowed as `client_id` label values; all others become "other". */
  registeredClientIds: () => ReadonlySet<string>;
  /** Collect prom-client's default process_* / nodejs_* metrics (default true). */
  defaultMetrics?: boolean;
}

export interface AuditWriterMetrics {
  setQueueDepth(events: number): void;
  setSpoolBytes(bytes: number): void;
  eventsWritten(count?: number): void;
  flushFailure(count?: number): void;
  /** Events the database refused for good and the writer kept aside (identity.audit_dead_letters or file). */
  deadLettered(count?: number): void;
}

export interface IdpMetrics {
  /** The registry all metrics live in (own instance, never prom-client's global one). */
  readonly registry: Registry;
  loginAttempt(result: LoginResult, method?: LoginMethod): void;
  operationLatency(operation: AuthOperation, seconds: number): void;
  /**
   * Records a refresh-token grant outcome and its latency. `reuse_detected`
   * does not also count `auth_token_reuse_detected_total`: call
   * tokenReuseDetected('refresh_token') for that.
   */
  refresh(result: RefreshResult, seconds?: number): void;
  /** Latency of one refresh-token grant request, without counting an outcome (see refresh()). */
  refreshLatency(seconds: number): void;
  oauthStep(step: OAuthStep, result: OAuthResult): void;
  error(errorType: OAuthErrorCode): void;
  tokenIssued(grantType: GrantType, clientId: string): void;
  tokenReuseDetected(kind: TokenReuseKind): void;
  rateLimited(endpoint: RateLimitedEndpoint): void;
  csrfFailure(): void;
  passwordChange(event: PasswordEvent): void;
  /** One delivery attempt of the mail queue. */
  mailDelivery(template: MailTemplateLabel, result: MailResult): void;
  setActiveSessions(count: number): void;
  readonly auditWriter: AuditWriterMetrics;
  setAuditQueueDepth(events: number): void;
  setAuditSpoolBytes(bytes: number): void;
  auditEventsWritten(count?: number): void;
  auditFlushFailure(count?: number): void;
  databaseError(): void;
  setDatabasePool(active: number, idle: number, max: number): void;
  /**
   * The signing keys as the key ring sees them now: counts per state and algorithm, seconds until each
   * active key is due for rotation, and seconds until its published successor takes over (none: no series).
   */
  setSigningKeys(keys: readonly { alg: string; state: string; activatesAt: Date }[], rotateEverySeconds: number, nowMs: number): void;
  /** Text exposition format for GET /metrics. */
  render(): Promise<{ contentType: string; body: string }>;
}

/** Runtime guard: TypeScript unions can be bypassed (casts, JS callers). */
function bounded<T extends string>(value: string, allowed: readonly T[]): T | typeof OTHER_LABEL {
  return (allowed as readonly string[]).includes(value) ? (value as T) : OTHER_LABEL;
}

function isCount(n: number): boolean {
  return Number.isFinite(n) && n >= 0;
}

export function createMetrics(options: CreateMetricsOptions): IdpMetrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) {
    collectDefaultMetrics({ register: registry });
  }
  const registers = [registry];

  const logins = new Counter({
    name: 'auth_logins_total',
    help: 'Login attempts by result and method.',
    labelNames: ['result', 'method'] as const,
    registers,
  });
  const operationLatencySeconds = new Histogram({
    name: 'auth_operation_latency_seconds',
    help: 'Latency of authentication operations in seconds.',
    labelNames: ['operation'] as const,
    buckets: [...LATENCY_BUCKETS],
    registers,
  });
  const refreshes = new Counter({
    name: 'auth_refresh_total',
    help: 'Refresh token grants by result.',
    labelNames: ['result'] as const,
    registers,
  });
  const refreshLatencySeconds = new Histogram({
    name: 'auth_refresh_latency_seconds',
    help: 'Latency of refresh token grants in seconds.',
    buckets: [...LATENCY_BUCKETS],
    registers,
  });
  const errors = new Counter({
    name: 'auth_errors_total',
    help: 'OAuth/OIDC error responses by error code.',
    labelNames: ['error_type'] as const,
    registers,
  });
  const oauth = new Counter({
    name: 'auth_oauth_total',
    help: 'OAuth/OIDC endpoint outcomes by step and result.',
    labelNames: ['step', 'result'] as const,
    registers,
  });
  const passwordEvents = new Counter({
    name: 'auth_password_reset_total',
    help: 'Password change and reset events: forced changes, changes, reset links requested, resets completed, reset attempts refused (bad, used or expired link).',
    labelNames: ['event'] as const,
    registers,
  });
  const mailMessages = new Counter({
    name: 'mail_messages_total',
    help: 'Delivery attempts of the mail queue by template and result (sent, retry, failed for good).',
    labelNames: ['template', 'result'] as const,
    registers,
  });
  const tokensIssued = new Counter({
    name: 'auth_tokens_issued_total',
    help: 'Tokens issued by grant type and registered client ("other" for unknown clients).',
    labelNames: ['grant_type', 'client_id'] as const,
    registers,
  });
  const tokenReuse = new Counter({
    name: 'auth_token_reuse_detected_total',
    help: 'Reuse of an already used refresh token or authorization code.',
    labelNames: ['kind'] as const,
    registers,
  });
  const rateLimitedTotal = new Counter({
    name: 'auth_rate_limited_total',
    help: 'Requests rejected by rate limiting, by endpoint.',
    labelNames: ['endpoint'] as const,
    registers,
  });
  const csrfFailures = new Counter({
    name: 'auth_csrf_failures_total',
    help: 'Requests rejected by CSRF validation.',
    registers,
  });
  const activeSessions = new Gauge({
    name: 'auth_active_sessions',
    help: 'Active (unexpired, not logged out) sessions.',
    registers,
  });
  const auditQueueDepth = new Gauge({
    name: 'audit_writer_queue_depth',
    help: 'Audit events buffered in memory awaiting a flush.',
    registers,
  });
  const auditSpoolBytes = new Gauge({
    name: 'audit_writer_spool_bytes',
    help: 'Bytes of audit events spooled to disk after failed flushes.',
    registers,
  });
  const auditFlushFailures = new Counter({
    name: 'audit_writer_flush_failures_total',
    help: 'Failed audit writer flushes to the database.',
    registers,
  });
  const auditEventsWrittenTotal = new Counter({
    name: 'audit_writer_events_written_total',
    help: 'Audit events written to the database.',
    registers,
  });
  const auditDeadLetters = new Counter({
    name: 'audit_dead_letter_events_total',
    help: 'Audit events the database refused for good (data, size, constraint errors), kept in identity.audit_dead_letters or the dead-letter file.',
    registers,
  });
  const databaseErrors = new Counter({
    name: 'database_errors_total',
    help: 'Database query or connection errors.',
    registers,
  });
  const databasePool = new Gauge({
    name: 'database_pool_connections',
    help: 'Database pool connections by state (active, idle, max).',
    labelNames: ['state'] as const,
    registers,
  });

  const signingKeys = new Gauge({
    name: 'idp_signing_keys',
    help: 'Published signing keys by lifecycle state (next: published, not signing yet; active; retiring: published until its tokens expire) and algorithm.',
    labelNames: ['state', 'alg'] as const,
    registers,
  });
  const rotationDue = new Gauge({
    name: 'idp_signing_key_rotation_due_seconds',
    help: 'Seconds until the active signing key of an algorithm is due for rotation (SIGNING_KEY_ROTATION_DAYS after it started signing); negative when overdue.',
    labelNames: ['alg'] as const,
    registers,
  });
  const successorIn = new Gauge({
    name: 'idp_signing_key_successor_seconds',
    help: 'Seconds until the published successor of the active signing key takes over; absent while none is published.',
    labelNames: ['alg'] as const,
    registers,
  });

  // Export every fixed-label series at 0 from the start: rate()/increase()
  // need a previous sample, so a counter first exported at 1 would hide the
  // first token reuse or failure from the alerts.
  for (const result of LOGIN_RESULTS) {
    for (const method of LOGIN_METHODS) logins.inc({ result, method }, 0);
  }
  for (const result of REFRESH_RESULTS) refreshes.inc({ result }, 0);
  for (const step of OAUTH_STEPS) {
    for (const result of OAUTH_RESULTS) oauth.inc({ step, result }, 0);
  }
  for (const event of PASSWORD_EVENTS) passwordEvents.inc({ event }, 0);
  for (const template of MAIL_TEMPLATES) {
    for (const result of MAIL_RESULTS) mailMessages.inc({ template, result }, 0);
  }
  for (const kind of TOKEN_REUSE_KINDS) tokenReuse.inc({ kind }, 0);
  for (const endpoint of RATE_LIMITED_ENDPOINTS) rateLimitedTotal.inc({ endpoint }, 0);
  csrfFailures.inc(0);
  auditFlushFailures.inc(0);
  auditEventsWrittenTotal.inc(0);
  auditDeadLetters.inc(0);
  databaseErrors.inc(0);
  for (const state of SIGNING_KEY_STATES) {
    for (const alg of SIGNING_ALGS) signingKeys.set({ state, alg }, 0);
  }

  const setGauge = (gauge: Gauge, value: number): void => {
    if (isCount(value)) gauge.set(value);
  };

  const auditWriter: AuditWriterMetrics = {
    setQueueDepth: (events) => setGauge(auditQueueDepth, events),
    setSpoolBytes: (bytes) => setGauge(auditSpoolBytes, bytes),
    eventsWritten: (count = 1) => {
      if (isCount(count)) auditEventsWrittenTotal.inc(count);
    },
    flushFailure: (count = 1) => {
      if (isCount(count)) auditFlushFailures.inc(count);
    },
    deadLettered: (count = 1) => {
      if (isCount(count)) auditDeadLetters.inc(count);
    },
  };

  return {
    registry,
    loginAttempt(result, method = 'password') {
      logins.inc({ result: bounded(result, LOGIN_RESULTS), method: bounded(method, LOGIN_METHODS) });
    },
    operationLatency(operation, seconds) {
      if (!isCount(seconds)) return;
      operationLatencySeconds.observe({ operation: bounded(operation, AUTH_OPERATIONS) }, seconds);
    },
    refresh(result, seconds) {
      refreshes.inc({ result: bounded(result, REFRESH_RESULTS) });
      if (seconds !== undefined && isCount(seconds)) refreshLatencySeconds.observe(seconds);
    },
    refreshLatency(seconds) {
      if (isCount(seconds)) refreshLatencySeconds.observe(seconds);
    },
    oauthStep(step, result) {
      oauth.inc({ step: bounded(step, OAUTH_STEPS), result: bounded(result, OAUTH_RESULTS) });
    },
    error(errorType) {
      errors.inc({ error_type: bounded(errorType, OAUTH_ERROR_CODES) });
    },
    tokenIssued(grantType, clientId) {
      // Only registered clients get their own series; the set of registered
      // clients is admin-controlled, so this stays bounded.
      const client_id = options.registeredClientIds().has(clientId) ? clientId : OTHER_LABEL;
      tokensIssued.inc({ grant_type: bounded(grantType, GRANT_TYPES), client_id });
    },
    tokenReuseDetected(kind) {
      tokenReuse.inc({ kind: bounded(kind, TOKEN_REUSE_KINDS) });
    },
    rateLimited(endpoint) {
      rateLimitedTotal.inc({ endpoint: bounded(endpoint, RATE_LIMITED_ENDPOINTS) });
    },
    csrfFailure() {
      csrfFailures.inc();
    },
    passwordChange(event) {
      passwordEvents.inc({ event: bounded(event, PASSWORD_EVENTS) });
    },
    mailDelivery(template, result) {
      mailMessages.inc({ template: bounded(template, MAIL_TEMPLATES), result: bounded(result, MAIL_RESULTS) });
    },
    setActiveSessions(count) {
      setGauge(activeSessions, count);
    },
    auditWriter,
    setAuditQueueDepth: auditWriter.setQueueDepth,
    setAuditSpoolBytes: auditWriter.setSpoolBytes,
    auditEventsWritten: auditWriter.eventsWritten,
    auditFlushFailure: auditWriter.flushFailure,
    databaseError() {
      databaseErrors.inc();
    },
    setDatabasePool(active, idle, max) {
      if (isCount(active)) databasePool.set({ state: 'active' }, active);
      if (isCount(idle)) databasePool.set({ state: 'idle' }, idle);
      if (isCount(max)) databasePool.set({ state: 'max' }, max);
    },
    setSigningKeys(keys, rotateEverySeconds, nowMs) {
      for (const alg of SIGNING_ALGS) {
        const mine = keys.filter((k) => k.alg === alg);
        for (const state of SIGNING_KEY_STATES) signingKeys.set({ state, alg }, mine.filter((k) => k.state === state).length);
        const active = mine.find((k) => k.state === 'active');
        if (active) rotationDue.set({ alg }, Math.round((active.activatesAt.getTime() + rotateEverySeconds * 1000 - nowMs) / 1000));
        else rotationDue.remove({ alg });
        const next = mine.find((k) => k.state === 'next');
        if (next) successorIn.set({ alg }, Math.round((next.activatesAt.getTime() - nowMs) / 1000));
        else successorIn.remove({ alg });
      }
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}
