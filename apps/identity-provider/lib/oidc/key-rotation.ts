import type { LifecycleChanges, RotationPolicy, SigningAlg, SigningKey } from './domain';
import type { SigningKeyLifecycle } from './store';
import type { AuditEvent } from './audit';
import type { AuditSink } from './ports';

/**
 * Signing key rotation (README "Signing key rotation"): the maintenance job that rotates on schedule, and
 * the rotation an operator asks for (CLI, admin console). Every lifecycle step is an audit event
 * (`key.published`, `key.activated`, `key.retired`; details: kid, alg and the replaced kid, nothing else).
 */
export interface KeyRotationDeps {
  keys: SigningKeyLifecycle;
  audit: AuditSink;
  policy: RotationPolicy;
  /** The JWKS Cache-Control max-age, to say what an immediate rotation breaks. */
  jwksMaxAgeSeconds: number;
  /** This process's key ring: told at once about a change made through it. */
  ring?: { invalidate(): void };
  /** Told what each step changed (kids and counts only). */
  log?: { info(message: string, fields: Record<string, unknown>): void };
}

/** Who asked (admin console, CLI): copied onto the audit events. */
export type RotationActor = Pick<AuditEvent, 'userId' | 'ip' | 'userAgent' | 'requestId'>;

function lifecycleEvents(changes: LifecycleChanges, actor: RotationActor = {}, replaced = new Map<string, string>(), immediate = false): AuditEvent[] {
  const event = (action: AuditEvent['action'], key: SigningKey, extra: Record<string, unknown> = {}): AuditEvent => ({
    ...actor,
    action,
    resourceType: 'signing_key',
    resourceId: key.kid,
    details: { kid: key.kid, alg: key.alg, ...extra },
  });
  return [
    ...changes.published.map((k) => event('key.published', k, replaced.has(k.kid) ? { replaces_kid: replaced.get(k.kid) } : {})),
    ...changes.activated.map((k) => event('key.activated', k, immediate ? { immediate: true } : {})),
    ...changes.retired.map((k) => event('key.retired', k)),
  ];
}

function record(deps: KeyRotationDeps, events: AuditEvent[]): void {
  for (const event of events) deps.audit.record(event);
  if (!events.length) return;
  deps.ring?.invalidate();
  deps.log?.info('signing keys', { changes: events.map((e) => `${e.action} ${e.resourceId}`) });
}

/**
 * The maintenance job: one round of automatic rotation (publish successors due within the pre-publication
 * window, record activations and retirements). Runs on one instance per round (advisory lock); the others
 * skip. `at` replaces the database time (tests).
 */
export async function runKeyRotation(deps: KeyRotationDeps, at: Date | null = null): Promise<Record<string, number>> {
  const round = await deps.keys.runScheduledRotation(deps.policy, at);
  record(deps, lifecycleEvents(round));
  return { keysPublished: round.published.length, keysActivated: round.activated.length, keysRetired: round.retired.length };
}

export interface RotationOutcome {
  alg: SigningAlg;
  /** The key that signs next (or, immediate, now). */
  kid: string;
  activatesAt: Date;
  /** False when a successor was already scheduled: that one is returned (and, immediate, activated). */
  created: boolean;
  replacesKid: string | null;
  /** When the replaced key leaves the JWKS. */
  replacedRetireAfter: Date | null;
  immediate: boolean;
  /**
   * What an immediate rotation breaks, in words (null when nothing: the key was published long enough
   * before it started signing).
   */
  breaks: string | null;
}

/**
 * Rotation on request: by default schedules the switch after the pre-publication window (nothing breaks);
 * `immediate` makes the successor sign now, for emergencies. The admin console calls this.
 */
export async function scheduleKeyRotation(
  deps: KeyRotationDeps,
  input: { alg: SigningAlg; immediate?: boolean; actor?: RotationActor },
): Promise<RotationOutcome> {
  const { alg, immediate = false, actor } = input;
  const result = immediate ? await deps.keys.rotateImmediately(alg, deps.policy.keepPublishedSeconds) : await deps.keys.scheduleRotation(alg, deps.policy);
  const replaced = new Map(result.replaces ? [[result.key.kid, result.replaces.kid]] : []);
  record(deps, lifecycleEvents(result, actor, replaced, immediate));
  const publishedForMs = result.key.activatesAt.getTime() - result.key.createdAt.getTime();
  const breaks =
    immediate && publishedForMs < deps.policy.publishAheadSeconds * 1000
      ? `Tokens signed with ${result.key.kid} from now on are rejected by verifiers whose cached JWKS predates its publication ` +
        `(${result.key.createdAt.toISOString()}) until they fetch the JWKS again: up to ${deps.jwksMaxAgeSeconds}s for verifiers that follow ` +
        `Cache-Control (until ${new Date(result.key.createdAt.getTime() + deps.jwksMaxAgeSeconds * 1000).toISOString()}), 30 minutes for Supabase, ` +
        `longer for verifiers that refetch only on restart. Tokens signed by ${result.replaces?.kid ?? 'the previous key'} keep verifying.`
      : null;
  return {
    alg,
    kid: result.key.kid,
    activatesAt: result.key.activatesAt,
    created: result.created,
    replacesKid: result.replaces?.kid ?? null,
    replacedRetireAfter: result.replaces ? new Date(result.key.activatesAt.getTime() + deps.policy.keepPublishedSeconds * 1000) : null,
    immediate,
    breaks,
  };
}

/** A rotation in the words the CLI prints (over the database or through the running server's socket). */
export function describeRotation(r: {
  alg: string;
  kid: string;
  immediate: boolean;
  created: boolean;
  activatesAt: string;
  replacesKid: string | null;
  replacedRetireAfter: string | null;
  breaks: string | null;
}): string[] {
  const replaced = r.replacesKid ? `; ${r.replacesKid} stays published until ${r.replacedRetireAfter}` : '';
  const done = r.immediate
    ? `${r.alg}: ${r.kid} signs from now on${replaced}`
    : `${r.alg}: ${r.kid} ${r.created ? 'published' : 'was already scheduled'}; it signs from ${r.activatesAt} on every instance${replaced}`;
  return r.breaks ? [done, `  WARNING: ${r.breaks}`] : [done];
}
