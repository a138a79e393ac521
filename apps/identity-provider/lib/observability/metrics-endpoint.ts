/**
 * GET {METRICS_PATH}: the Prometheus exposition, served by the Node server before Next (no page
 * machinery, no session). Protected by a bearer token and/or basic auth (compared in constant time);
 * loadConfig refuses to start a production server that would serve it without either. Gauges that
 * describe state (audit writer, database pool, active sessions) are sampled on each scrape.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../env';
import type { Logger } from '../log';
import type { IdpMetrics } from './metrics';

export interface ScrapeSources {
  /** The audit writer's counters (container.audit.stats()). */
  auditStats(): { queued: number; written: number; flushFailures: number; spoolBytes?: number; deadLettered?: number };
  /** Database pool usage (store.db.poolStats()). */
  poolStats(): { active: number; idle: number; max: number };
  /** Active sessions (store.sessions.countActive()): a count query, so cached between scrapes. */
  countActiveSessions(): Promise<number>;
  /** The signing keys' lifecycle from the key ring's memory (container.keyRing.schedule()), and the rotation period. */
  signingKeys?: { schedule(): readonly { alg: string; state: string; activatesAt: Date }[]; rotateEverySeconds: number };
}

export const ACTIVE_SESSIONS_CACHE_MS = 10_000;

/** Updates the state gauges (and the audit writer counters, from the writer's running totals). */
export function createScrapeSampler(metrics: IdpMetrics, sources: ScrapeSources, log: Logger, now = () => Date.now()): () => Promise<void> {
  const seen = { written: 0, flushFailures: 0, deadLettered: 0 };
  let sessionsAt = -Infinity;
  let sessionsInflight: Promise<void> | null = null;

  const refreshSessions = async () => {
    try {
      metrics.setActiveSessions(await sources.countActiveSessions());
    } catch (error) {
      metrics.databaseError();
      log.warn('metrics: counting active sessions failed', { error });
    } finally {
      sessionsAt = now();
    }
  };

  return async () => {
    const audit = sources.auditStats();
    metrics.auditWriter.setQueueDepth(audit.queued);
    metrics.auditWriter.setSpoolBytes(audit.spoolBytes ?? 0);
    // the writer keeps running totals; the counters get what happened since the last scrape
    if (audit.written > seen.written) metrics.auditWriter.eventsWritten(audit.written - seen.written);
    if (audit.flushFailures > seen.flushFailures) metrics.auditWriter.flushFailure(audit.flushFailures - seen.flushFailures);
    seen.written = Math.max(seen.written, audit.written);
    seen.flushFailures = Math.max(seen.flushFailures, audit.flushFailures);
    const deadLettered = audit.deadLettered ?? 0;
    if (deadLettered > seen.deadLettered) metrics.auditWriter.deadLettered(deadLettered - seen.deadLettered);
    seen.deadLettered = Math.max(seen.deadLettered, deadLettered);

    if (sources.signingKeys) metrics.setSigningKeys(sources.signingKeys.schedule(), sources.signingKeys.rotateEverySeconds, now());

    const pool = sources.poolStats();
    metrics.setDatabasePool(pool.active, pool.idle, pool.max);

    if (now() - sessionsAt >= ACTIVE_SESSIONS_CACHE_MS) {
      sessionsInflight ??= refreshSessions().finally(() => (sessionsInflight = null));
      await sessionsInflight;
    }
  };
}

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export type MetricsAuth = Pick<Config['metrics'], 'token' | 'basicAuth'>;

/** 127.0.0.0/8, ::1 and their IPv4-mapped form. */
export function isLoopback(address: string | undefined): boolean {
  return !!address && /^(127\.|::1$|::ffff:127\.)/.test(address);
}

/** Whether an Authorization header satisfies the configured protection (none configured: anyone). */
export function metricsAuthorized(header: string | undefined, auth: MetricsAuth): boolean {
  if (!auth.token && !auth.basicAuth) return true;
  const match = /^(\S+)\s+(\S+)$/.exec(header?.trim() ?? '');
  if (!match) return false;
  const scheme = match[1].toLowerCase();
  if (scheme === 'bearer' && auth.token) return safeEqual(match[2], auth.token);
  if (scheme === 'basic' && auth.basicAuth) {
    const decoded = Buffer.from(match[2], 'base64').toString('utf8');
    return safeEqual(decoded, `${auth.basicAuth.user}:${auth.basicAuth.password}`);
  }
  return false;
}

export function challenges(auth: MetricsAuth): string[] {
  const out: string[] = [];
  if (auth.token) out.push('Bearer realm="metrics"');
  if (auth.basicAuth) out.push('Basic realm="metrics", charset="UTF-8"');
  return out;
}

/** The Node handler for METRICS_PATH. */
export function createMetricsHandler(options: {
  metrics: IdpMetrics;
  auth: MetricsAuth;
  sample: () => Promise<void>;
  log: Logger;
}): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const { metrics, auth, sample, log } = options;
  return async (req, res) => {
    const noStore = { 'Cache-Control': 'no-store' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', ...noStore }).end();
      return;
    }
    // without credentials configured (development) the exposition, which names clients, is for this machine only
    if (!auth.token && !auth.basicAuth && !isLoopback(req.socket.remoteAddress)) {
      res
        .writeHead(403, { 'Content-Type': 'text/plain; charset=utf-8', ...noStore })
        .end('Forbidden: set METRICS_TOKEN or METRICS_BASIC_AUTH to scrape from another host\n');
      return;
    }
    if (!metricsAuthorized(req.headers.authorization, auth)) {
      res.writeHead(401, { 'WWW-Authenticate': challenges(auth), 'Content-Type': 'text/plain; charset=utf-8', ...noStore }).end('Unauthorized\n');
      return;
    }
    try {
      await sample();
    } catch (error) {
      log.warn('metrics: sampling failed', { error });
    }
    const { contentType, body } = await metrics.render();
    res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), ...noStore });
    res.end(req.method === 'HEAD' ? undefined : body);
  };
}
