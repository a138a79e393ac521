import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';

/**
 * The one configuration object, read once from the environment and validated. Every variable is listed
 * in the README's configuration table; keep the two in step.
 */
const PLACEHOLDER_WORDS = ['change', 'example', 'secret', 'password', 'test', 'placeholder', 'dummy', 'default', 'xxxx', 'todo'];
const SECRET_MIN_BYTES = 32;

const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
const int = (fallback: number) => z.coerce.number().int().positive().default(fallback);
/** `LIMIT/WINDOW_SECONDS`, e.g. `20/900`; a limit of 0 turns the rule off. */
const rule = (fallback: string) =>
  z
    .string()
    .regex(/^\d+\/[1-9]\d*$/, 'expected LIMIT/WINDOW_SECONDS, e.g. 20/900')
    .default(fallback)
    .transform((v) => {
      const [limit, windowSeconds] = v.split('/').map(Number);
      return { limit, windowSeconds };
    });

const schema = z.object({
  NODE_ENV: z.string().optional(),
  PORT: int(3000),
  HOST: z.string().default('0.0.0.0'),
  ISSUER_URL: z
    .url()
    .refine((v) => /^https?:$/.test(new URL(v).protocol), 'must be an http(s) URL')
    // an issuer identifier has no query or fragment (OIDC Discovery 3, RFC 8414 2) and no credentials
    .refine((v) => !v.includes('?') && !v.includes('#'), 'must not contain a query or fragment')
    .refine((v) => !new URL(v).username && !new URL(v).password, 'must not contain credentials')
    .optional(),
  HTTP_HEADERS_TIMEOUT_MS: int(10_000),
  HTTP_REQUEST_TIMEOUT_MS: int(30_000),
  HTTP_MAX_CONNECTIONS: int(10_000),
  DATABASE_URL: z.string().optional(),
  DATABASE_POOL_MAX: int(10),
  DATABASE_ANALYTICS_POOL_MAX: int(2),
  DATABASE_CONNECT_TIMEOUT_SECONDS: int(10),
  DATABASE_STATEMENT_TIMEOUT_MS: int(15_000),
  DATABASE_QUERY_TIMEOUT_MS: int(2_000),
  DATA_DIR: z.string().optional(),
  SESSION_SECRET: z.string().optional(),
  KEY_ENCRYPTION_SECRET: z.string().optional(),
  TRUSTED_PROXY: z.enum(['none', 'x-forwarded-for', 'x-real-ip', 'cf-connecting-ip']).default('none'),
  TRUSTED_PROXY_HOPS: int(1),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
  ACCESS_TOKEN_TTL_SECONDS: int(900),
  ID_TOKEN_TTL_SECONDS: int(3600),
  REFRESH_TOKEN_TTL_SECONDS: int(30 * 24 * 3600),
  AUTHORIZATION_CODE_TTL_SECONDS: int(60),
  SESSION_TTL_SECONDS: int(24 * 3600),
  LOGIN_MAX_FAILURES: int(5),
  LOGIN_LOCK_MINUTES: int(15),
  // failed sign-ins per account from all sources: the backstop that throttles unrecognised devices only
  RATE_LIMIT_LOGIN_PER_ACCOUNT: rule('100/3600'),
  RATE_LIMIT_LOGIN_PER_IP: rule('100/900'),
  RATE_LIMIT_TOKEN_PER_CLIENT: rule('6000/60'),
  RATE_LIMIT_TOKEN_PER_IP: rule('6000/60'),
  RATE_LIMIT_PASSWORD_CHANGE: rule('5/900'),
  // reset requests per attempted address (known or not) and per client IP
  RATE_LIMIT_PASSWORD_RESET_PER_ACCOUNT: rule('3/3600'),
  RATE_LIMIT_PASSWORD_RESET_PER_IP: rule('20/3600'),
  PASSWORD_MIN_LENGTH: z.coerce.number().int().min(8, 'NIST SP 800-63B asks for at least 8').max(64).default(8),
  PASSWORD_RESET_TTL_SECONDS: int(30 * 60),
  EMAIL_VERIFICATION_TTL_SECONDS: int(48 * 3600),
  SMTP_URL: z
    .url()
    .refine((v) => /^smtps?:$/.test(new URL(v).protocol), 'must be an smtp:// or smtps:// URL')
    .optional(),
  MAIL_FROM: z.string().max(320).optional(),
  // comma-separated roles that must use a second factor; `none` for nobody (default: admin in production)
  MFA_REQUIRED_ROLES: z
    .string()
    .regex(/^(none|[a-z][a-z0-9_-]{0,31}(,[a-z][a-z0-9_-]{0,31})*)$/, 'expected comma-separated role names (e.g. admin,staff) or none')
    .optional(),
  MFA_ENROLMENT_GRACE_DAYS: z.coerce.number().int().min(0).max(365).default(14),
  AUDIT_WRITER: z.enum(['on', 'off']).default('on'),
  AUDIT_RETENTION_DAYS: int(400),
  AUDIT_FLUSH_INTERVAL_MS: int(200),
  AUDIT_BATCH_SIZE: int(500),
  // how often in-memory copies re-check the database, and the upkeep loop's period (tests shorten them)
  KEY_RING_CHECK_MS: int(5_000),
  CLIENT_REGISTRY_CHECK_MS: int(2_000),
  REVOCATION_EPOCH_POLL_MS: int(500),
  RATE_LIMIT_SYNC_MS: int(1_000),
  MAINTENANCE_INTERVAL_MS: int(60_000),
  // signing key rotation (README "Signing key rotation"): a new key is published JWKS max-age + margin before it signs
  JWKS_MAX_AGE_SECONDS: int(900),
  SIGNING_KEY_PUBLISH_MARGIN_SECONDS: int(3600),
  SIGNING_KEY_ROTATION_DAYS: z.coerce.number().positive().max(3650).default(90),
  ADMIN_EMAIL: z.email().default('admin@localhost.localdomain'),
  ADMIN_PASSWORD_FILE: z.string().optional(),
  ADMIN_REAUTH_SECONDS: int(300),
  DEMO_CLIENT: bool.optional(),
  METRICS_ENABLED: bool.optional(),
  METRICS_PATH: z
    .string()
    .regex(/^\/[A-Za-z0-9._~\-/]+$/, 'must be an absolute path such as /metrics')
    .default('/metrics'),
  METRICS_TOKEN: z.string().optional(),
  METRICS_BASIC_AUTH: z.string().optional(),
});

export interface Config {
  production: boolean;
  port: number;
  host: string;
  issuer: string;
  database: { url?: string; poolMax: number; analyticsPoolMax: number; connectTimeoutSeconds: number; statementTimeoutMs: number; queryTimeoutMs: number };
  dataDir: string;
  sessionSecret: string;
  keyEncryptionSecret: string;
  trustedProxy: { header: 'none' | 'x-forwarded-for' | 'x-real-ip' | 'cf-connecting-ip'; hops: number };
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  ttl: { accessToken: number; idToken: number; refreshToken: number; authorizationCode: number; session: number };
  login: { maxFailures: number; lockSeconds: number };
  /** Second-factor policy (README "Second factors and passkeys"). */
  mfa: { requiredRoles: string[]; enrolmentGraceDays: number };
  rateLimits: Record<
    'loginPerAccount' | 'loginPerIp' | 'tokenPerClient' | 'tokenPerIp' | 'passwordChange' | 'passwordResetPerAccount' | 'passwordResetPerIp',
    { limit: number; windowSeconds: number }
  >;
  /** NIST SP 800-63B minimum (lib/security/password-policy.ts). */
  passwordMinLength: number;
  /** Lifetimes of the links mailed for a password reset and an address verification. */
  recovery: { resetTtlSeconds: number; verificationTtlSeconds: number };
  /**
   * Outgoing mail: SMTP when `smtpUrl` is set; otherwise, in development only, the local outbox
   * ($DATA_DIR/outbox, listed at /dev/outbox). In production without SMTP_URL nothing is sent (a warning).
   */
  mail: { smtpUrl?: string; from: string };
  adminEmail: string;
  /** The first administrator's initial password is read from this file (production: the only way, never logged). */
  adminPasswordFile?: string;
  /** Destructive or secret-revealing admin actions need a sign-in at most this old (admin console). */
  adminReauthSeconds: number;
  demoClient: boolean;
  /** `off` only to measure the audit writer's cost in benchmarks: events are then discarded. */
  auditWriter: 'on' | 'off';
  /** Raw audit events older than this are dropped, a month at a time; the analytics rollups keep the history. */
  auditRetentionDays: number;
  /** The audit writer flushes every `flushIntervalMs`, or at once when `batchSize` events are queued. */
  audit: { flushIntervalMs: number; batchSize: number };
  /** Periods of the in-memory copies' database checks and of the maintenance loop, in milliseconds. */
  intervals: { keyRingMs: number; clientRegistryMs: number; revocationEpochMs: number; rateLimitSyncMs: number; maintenanceMs: number };
  /**
   * Signing key rotation, in seconds: the JWKS Cache-Control max-age; how long a new key is published before
   * it signs (max-age + margin); how long a replaced key stays published (the longest token lifetime plus
   * verifier clock leeway); and the rotation period.
   */
  signingKeys: { jwksMaxAgeSeconds: number; publishAheadSeconds: number; keepPublishedSeconds: number; rotateEverySeconds: number };
  /** Prometheus exposition; never public in production (a token or basic auth is then required). */
  metrics: { enabled: boolean; path: string; token?: string; basicAuth?: { user: string; password: string } };
  /** Against slow clients: deadlines for a request's headers and for the whole request, and a connection cap. */
  http: { headersTimeoutMs: number; requestTimeoutMs: number; maxConnections: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** The repository root: the nearest directory above `start` holding supabase/migrations. */
export function findRepoRoot(start = process.cwd()): string {
  let dir = resolve(/*turbopackIgnore: true*/ start);
  while (!existsSync(join(/*turbopackIgnore: true*/ dir, 'supabase', 'migrations'))) {
    const parent = dirname(dir);
    if (parent === dir) return resolve(/*turbopackIgnore: true*/ start);
    dir = parent;
  }
  return dir;
}

function secretProblems(name: string, value: string | undefined): string[] {
  if (!value) return [`${name} is required in production (at least ${SECRET_MIN_BYTES} random bytes)`];
  const problems: string[] = [];
  if (Buffer.byteLength(value, 'utf8') < SECRET_MIN_BYTES) problems.push(`${name} is shorter than ${SECRET_MIN_BYTES} bytes`);
  // a random value (e.g. openssl rand -base64 48: ~40 distinct characters) may spell "test" by chance;
  // placeholders people type use few distinct characters
  const randomLooking = new Set(value).size >= 32;
  const word = randomLooking ? undefined : PLACEHOLDER_WORDS.find((w) => value.toLowerCase().includes(w));
  if (word) problems.push(`${name} looks like a placeholder (contains "${word}"); generate one with: openssl rand -base64 48`);
  return problems;
}

/**
 * Development secrets: generated once with a CSPRNG and kept in the data directory (mode 0600), so
 * sessions and encrypted keys survive restarts without anyone choosing a weak value.
 */
function developmentSecrets(dataDir: string): { SESSION_SECRET: string; KEY_ENCRYPTION_SECRET: string } {
  const file = join(/*turbopackIgnore: true*/ dataDir, 'secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const secrets = {
    SESSION_SECRET: randomBytes(48).toString('base64url'),
    KEY_ENCRYPTION_SECRET: randomBytes(48).toString('base64url'),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  chmodSync(file, 0o600);
  return secrets;
}

export function loadConfig(env: Record<string, string | undefined> = process.env, root = findRepoRoot()): Config {
  // a variable set to nothing (`DEMO_CLIENT=`) means its default, as if it were unset
  const parsed = schema.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`));
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  const dataDir = e.DATA_DIR
    ? isAbsolute(e.DATA_DIR)
      ? e.DATA_DIR
      : resolve(/*turbopackIgnore: true*/ root, e.DATA_DIR)
    : join(/*turbopackIgnore: true*/ root, '.data');
  const issuer = (e.ISSUER_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  const problems: string[] = [];

  let sessionSecret = e.SESSION_SECRET;
  let keyEncryptionSecret = e.KEY_ENCRYPTION_SECRET;
  if (production) {
    problems.push(...secretProblems('SESSION_SECRET', sessionSecret), ...secretProblems('KEY_ENCRYPTION_SECRET', keyEncryptionSecret));
    const url = new URL(issuer);
    const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !local) problems.push(`ISSUER_URL must use https in production (got ${issuer})`);
  } else if (!sessionSecret || !keyEncryptionSecret) {
    const generated = developmentSecrets(dataDir);
    sessionSecret ??= generated.SESSION_SECRET;
    keyEncryptionSecret ??= generated.KEY_ENCRYPTION_SECRET;
  }
  if (sessionSecret && Buffer.byteLength(sessionSecret) < SECRET_MIN_BYTES && !production) {
    problems.push(`SESSION_SECRET is shorter than ${SECRET_MIN_BYTES} bytes`);
  }
  const metrics = metricsConfig(e, production, problems);
  const signingKeys = signingKeyConfig(e, production, problems);
  if (problems.length) throw new ConfigError(problems);

  return {
    production,
    port: e.PORT,
    host: e.HOST,
    issuer,
    database: {
      url: e.DATABASE_URL || undefined,
      poolMax: e.DATABASE_POOL_MAX,
      analyticsPoolMax: e.DATABASE_ANALYTICS_POOL_MAX,
      connectTimeoutSeconds: e.DATABASE_CONNECT_TIMEOUT_SECONDS,
      statementTimeoutMs: e.DATABASE_STATEMENT_TIMEOUT_MS,
      queryTimeoutMs: e.DATABASE_QUERY_TIMEOUT_MS,
    },
    dataDir,
    sessionSecret: sessionSecret!,
    keyEncryptionSecret: keyEncryptionSecret!,
    trustedProxy: { header: e.TRUSTED_PROXY, hops: e.TRUSTED_PROXY_HOPS },
    logLevel: e.LOG_LEVEL,
    ttl: {
      accessToken: e.ACCESS_TOKEN_TTL_SECONDS,
      idToken: e.ID_TOKEN_TTL_SECONDS,
      refreshToken: e.REFRESH_TOKEN_TTL_SECONDS,
      authorizationCode: e.AUTHORIZATION_CODE_TTL_SECONDS,
      session: e.SESSION_TTL_SECONDS,
    },
    login: { maxFailures: e.LOGIN_MAX_FAILURES, lockSeconds: e.LOGIN_LOCK_MINUTES * 60 },
    mfa: {
      requiredRoles: e.MFA_REQUIRED_ROLES === 'none' ? [] : e.MFA_REQUIRED_ROLES ? e.MFA_REQUIRED_ROLES.split(',') : production ? ['admin'] : [],
      enrolmentGraceDays: e.MFA_ENROLMENT_GRACE_DAYS,
    },
    rateLimits: {
      loginPerAccount: e.RATE_LIMIT_LOGIN_PER_ACCOUNT,
      loginPerIp: e.RATE_LIMIT_LOGIN_PER_IP,
      tokenPerClient: e.RATE_LIMIT_TOKEN_PER_CLIENT,
      tokenPerIp: e.RATE_LIMIT_TOKEN_PER_IP,
      passwordChange: e.RATE_LIMIT_PASSWORD_CHANGE,
      passwordResetPerAccount: e.RATE_LIMIT_PASSWORD_RESET_PER_ACCOUNT,
      passwordResetPerIp: e.RATE_LIMIT_PASSWORD_RESET_PER_IP,
    },
    passwordMinLength: e.PASSWORD_MIN_LENGTH,
    recovery: { resetTtlSeconds: e.PASSWORD_RESET_TTL_SECONDS, verificationTtlSeconds: e.EMAIL_VERIFICATION_TTL_SECONDS },
    mail: { ...(e.SMTP_URL ? { smtpUrl: e.SMTP_URL } : {}), from: e.MAIL_FROM ?? `Identity provider <no-reply@${new URL(issuer).hostname}>` },
    adminEmail: e.ADMIN_EMAIL,
    adminReauthSeconds: e.ADMIN_REAUTH_SECONDS,
    ...(e.ADMIN_PASSWORD_FILE
      ? { adminPasswordFile: isAbsolute(e.ADMIN_PASSWORD_FILE) ? e.ADMIN_PASSWORD_FILE : resolve(/*turbopackIgnore: true*/ root, e.ADMIN_PASSWORD_FILE) }
      : {}),
    demoClient: e.DEMO_CLIENT ?? !production,
    http: { headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS, requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS, maxConnections: e.HTTP_MAX_CONNECTIONS },
    auditWriter: e.AUDIT_WRITER,
    auditRetentionDays: e.AUDIT_RETENTION_DAYS,
    audit: { flushIntervalMs: e.AUDIT_FLUSH_INTERVAL_MS, batchSize: e.AUDIT_BATCH_SIZE },
    intervals: {
      keyRingMs: e.KEY_RING_CHECK_MS,
      clientRegistryMs: e.CLIENT_REGISTRY_CHECK_MS,
      revocationEpochMs: e.REVOCATION_EPOCH_POLL_MS,
      rateLimitSyncMs: e.RATE_LIMIT_SYNC_MS,
      maintenanceMs: e.MAINTENANCE_INTERVAL_MS,
    },
    signingKeys,
    metrics,
  };
}

/** Verifiers may accept a token this long past its `exp` (clock skew): a replaced key stays published that much longer. */
export const VERIFIER_LEEWAY_SECONDS = 60;
/** Supabase (and other verifiers) refetch a JWKS every 30 minutes whatever its Cache-Control says. */
const LONGEST_KNOWN_JWKS_REFRESH_SECONDS = 1800;

function signingKeyConfig(e: z.infer<typeof schema>, production: boolean, problems: string[]): Config['signingKeys'] {
  const publishAheadSeconds = e.JWKS_MAX_AGE_SECONDS + e.SIGNING_KEY_PUBLISH_MARGIN_SECONDS;
  const rotateEverySeconds = Math.round(e.SIGNING_KEY_ROTATION_DAYS * 86_400);
  if (rotateEverySeconds <= publishAheadSeconds) {
    problems.push(
      `SIGNING_KEY_ROTATION_DAYS must be longer than the pre-publication window (JWKS_MAX_AGE_SECONDS + SIGNING_KEY_PUBLISH_MARGIN_SECONDS = ${publishAheadSeconds}s)`,
    );
  }
  if (production && publishAheadSeconds < LONGEST_KNOWN_JWKS_REFRESH_SECONDS) {
    problems.push(
      `JWKS_MAX_AGE_SECONDS + SIGNING_KEY_PUBLISH_MARGIN_SECONDS must be at least ${LONGEST_KNOWN_JWKS_REFRESH_SECONDS}s in production (Supabase refetches a JWKS every 30 minutes); got ${publishAheadSeconds}s`,
    );
  }
  return {
    jwksMaxAgeSeconds: e.JWKS_MAX_AGE_SECONDS,
    publishAheadSeconds,
    keepPublishedSeconds: Math.max(e.ACCESS_TOKEN_TTL_SECONDS, e.ID_TOKEN_TTL_SECONDS) + VERIFIER_LEEWAY_SECONDS,
    rotateEverySeconds,
  };
}

const RESERVED_PREFIXES = ['/oidc', '/interaction', '/api', '/_next', '/.well-known'];
const METRICS_PASSWORD_MIN = 16;

/** METRICS_*: on by default in development only; in production only behind a token or basic auth. */
function metricsConfig(e: z.infer<typeof schema>, production: boolean, problems: string[]): Config['metrics'] {
  const enabled = e.METRICS_ENABLED ?? !production;
  const path = e.METRICS_PATH.replace(/\/+$/, '') || '/';
  if (path === '/' || RESERVED_PREFIXES.some((p) => path === p || path.startsWith(`${p}/`))) {
    problems.push(`METRICS_PATH must not be / or under ${RESERVED_PREFIXES.join(', ')} (got ${path})`);
  }
  const token = e.METRICS_TOKEN || undefined;
  let basicAuth: Config['metrics']['basicAuth'];
  if (e.METRICS_BASIC_AUTH) {
    const colon = e.METRICS_BASIC_AUTH.indexOf(':');
    const user = colon > 0 ? e.METRICS_BASIC_AUTH.slice(0, colon) : '';
    const password = colon > 0 ? e.METRICS_BASIC_AUTH.slice(colon + 1) : '';
    if (!user || !password) problems.push('METRICS_BASIC_AUTH must be user:password');
    else basicAuth = { user, password };
  }
  if (production) {
    if (enabled && !token && !e.METRICS_BASIC_AUTH) {
      problems.push('METRICS_ENABLED=true in production requires METRICS_TOKEN or METRICS_BASIC_AUTH: metrics are never served unauthenticated in production');
    }
    if (token) problems.push(...secretProblems('METRICS_TOKEN', token));
    if (basicAuth && Buffer.byteLength(basicAuth.password) < METRICS_PASSWORD_MIN) {
      problems.push(`the METRICS_BASIC_AUTH password is shorter than ${METRICS_PASSWORD_MIN} bytes`);
    }
  }
  return { enabled, path, ...(token ? { token } : {}), ...(basicAuth ? { basicAuth } : {}) };
}
