import { systemNow } from '@idp/database-identity';
import type { AuditEvent } from '../oidc/audit';
import type { AuditSink } from '../oidc/ports';

export interface SuspicionThresholds {
  windowSeconds: number;
  /** Credential stuffing: failed logins on one account from at least this many IPs. */
  stuffingDistinctIps: number;
  /** Password spraying: failed logins on at least this many accounts from one IP. */
  sprayingDistinctAccounts: number;
  /** Repeated invalid client authentication for one client. */
  clientAuthFailures: number;
}

export const DEFAULT_THRESHOLDS: SuspicionThresholds = { windowSeconds: 600, stuffingDistinctIps: 3, sprayingDistinctAccounts: 10, clientAuthFailures: 10 };

/**
 * Watches the audit stream for abuse patterns and records `security.suspicious` with the pattern's name
 * and its evidence (ids and counts, never secrets). Reuse of a refresh token or an authorization code is
 * suspicious on its own; the login and client patterns count within a sliding window, per instance, and
 * report once per window per subject.
 */
export function withSuspicionDetection(sink: AuditSink, thresholds: SuspicionThresholds = DEFAULT_THRESHOLDS, now = systemNow): AuditSink {
  const windowMs = thresholds.windowSeconds * 1000;
  const seen = new Map<string, { at: number; value: string }[]>();
  const reported = new Map<string, number>();

  const track = (key: string, value: string): Set<string> => {
    const t = now();
    const entries = (seen.get(key) ?? []).filter((e) => t - e.at < windowMs);
    entries.push({ at: t, value });
    seen.set(key, entries);
    return new Set(entries.map((e) => e.value));
  };
  const count = (key: string): number => {
    const t = now();
    const entries = (seen.get(key) ?? []).filter((e) => t - e.at < windowMs);
    entries.push({ at: t, value: String(t) });
    seen.set(key, entries);
    return entries.length;
  };
  const once = (key: string) => {
    const last = reported.get(key);
    if (last !== undefined && now() - last < windowMs) return false;
    reported.set(key, now());
    return true;
  };
  const suspicious = (source: AuditEvent, pattern: string, evidence: Record<string, unknown>) =>
    sink.record({
      action: 'security.suspicious',
      userId: source.userId ?? null,
      clientId: source.clientId ?? null,
      ip: source.ip,
      userAgent: source.userAgent,
      requestId: source.requestId,
      details: { pattern, evidence },
    });

  // keep memory bounded: forget old windows now and then
  const sweeper = setInterval(() => {
    const t = now();
    for (const [key, entries] of seen) if (entries.every((e) => t - e.at >= windowMs)) seen.delete(key);
    for (const [key, at] of reported) if (t - at >= windowMs) reported.delete(key);
  }, 60_000);
  sweeper.unref();

  return {
    record(event) {
      sink.record(event);
      switch (event.action) {
        case 'token.refresh_reused':
          suspicious(event, 'refresh_token_reuse', { family_id: event.details?.family_id, revoked_refresh_tokens: event.details?.revoked_refresh_tokens });
          break;
        case 'token.code_replayed':
          suspicious(event, 'authorization_code_replay', {
            family_id: event.details?.family_id,
            revoked_refresh_tokens: event.details?.revoked_refresh_tokens,
          });
          break;
        case 'auth.login_failed': {
          const account = event.userId ?? (event.details?.account_key as string | undefined);
          if (account && event.ip) {
            const ips = track(`stuffing:${account}`, event.ip);
            if (ips.size >= thresholds.stuffingDistinctIps && once(`stuffing:${account}`)) {
              suspicious(event, 'credential_stuffing', { distinct_ips: ips.size, window_seconds: thresholds.windowSeconds });
            }
          }
          if (event.ip && account) {
            const accounts = track(`spraying:${event.ip}`, account);
            if (accounts.size >= thresholds.sprayingDistinctAccounts && once(`spraying:${event.ip}`)) {
              suspicious({ ...event, userId: null }, 'password_spraying', { distinct_accounts: accounts.size, window_seconds: thresholds.windowSeconds });
            }
          }
          break;
        }
        case 'client.auth_failed': {
          if (!event.clientId) break;
          const failures = count(`client:${event.clientId}`);
          if (failures >= thresholds.clientAuthFailures && once(`client:${event.clientId}`)) {
            suspicious(event, 'client_auth_failures', { failures, window_seconds: thresholds.windowSeconds });
          }
          break;
        }
      }
    },
  };
}
