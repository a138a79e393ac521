/**
 * Readiness (GET /api/health/ready): can this instance serve traffic? The database answers `select 1`
 * in time, the audit writer is reaching the database, the data directory's file system has room, and the
 * provider can issue tokens (a client registry and an active signing key no staler than their bound).
 * The answer holds numbers and states only: no connection strings, paths, hosts or error messages; an
 * anonymous caller gets the states without pool sizes, disk bytes or the database kind (redactReadiness).
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { MaintenanceStatus } from '../maintenance';

export const DATABASE_TIMEOUT_MS = 2_000;
/** Below this much free space the embedded database, the audit spool and the key files are at risk. */
export const DISK_MIN_FREE_BYTES = 100 * 1024 * 1024;
/** Events waiting in memory beyond which the writer is considered stuck. */
export const AUDIT_MAX_QUEUE = 10_000;

type Status = 'ok' | 'fail';
/** 'warn': serving, but an operator should look (audit events were dead-lettered). */
type AuditStatus = Status | 'warn';

export interface ReadinessReport {
  status: 'ready' | 'unavailable';
  checks: {
    database: { status: Status; kind: string; latency_ms: number | null; pool: { active: number; idle: number; max: number } };
    audit_writer: {
      status: AuditStatus;
      queue_depth: number;
      flush_failures: number;
      spool_bytes: number;
      dropped: number;
      dead_letters: number;
      database_available: boolean;
    };
    disk: { status: Status; free_bytes: number | null; total_bytes: number | null; free_ratio: number | null };
    token_issuance: { status: Status; client_registry_age_ms: number | null; signing_keys_age_ms: number | null; active_signing_key: boolean };
    /** Informational, never makes the instance unready: whether this process runs upkeep, and how each job's last run went. */
    maintenance: { status: 'ok' | 'warn' | 'not_started'; rounds: number; jobs: Record<string, 'ok' | 'fail' | 'pending'> };
  };
}

/** The freshness of what issuing a token needs from memory (the container's client registry and key ring). */
export interface IssuanceHealth {
  registry: { usable: boolean; ageMs: number | null };
  keys: { usable: boolean; ageMs: number | null; signing: boolean };
}

export interface ReadinessSources {
  db: { kind: string; query(sql: string): Promise<unknown>; poolStats(): { active: number; idle: number; max: number } };
  auditStats(): { queued: number; flushFailures: number; spoolBytes?: number; dropped?: number; deadLettered?: number; databaseAvailable?: boolean };
  dataDir: string;
  /** Loads what is not loaded yet, within the readiness timeout, and reports freshness. */
  issuance(timeoutMs: number): Promise<IssuanceHealth>;
  maintenance?(): MaintenanceStatus;
  onError?: (check: string, error: unknown) => void;
}

function timeout(ms: number): Promise<never> {
  return new Promise((_, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    timer.unref?.();
  });
}

/** statfs of the directory, or of its nearest existing parent (with DATABASE_URL it may never be created). */
async function diskSpace(dir: string): Promise<{ free: number; total: number }> {
  for (let current = dir; ; current = dirname(current)) {
    try {
      const s = await statfs(current);
      return { free: s.bavail * s.bsize, total: s.blocks * s.bsize };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(current) === current) throw error;
    }
  }
}

export async function checkReadiness(sources: ReadinessSources, timeoutMs = DATABASE_TIMEOUT_MS): Promise<ReadinessReport> {
  const database: ReadinessReport['checks']['database'] = { status: 'fail', kind: sources.db.kind, latency_ms: null, pool: sources.db.poolStats() };
  const started = performance.now();
  try {
    await Promise.race([sources.db.query('select 1'), timeout(timeoutMs)]);
    database.latency_ms = Math.round((performance.now() - started) * 10) / 10;
    database.status = 'ok';
  } catch (error) {
    sources.onError?.('database', error);
  }

  const stats = sources.auditStats();
  const databaseAvailable = stats.databaseAvailable ?? true;
  const deadLetters = stats.deadLettered ?? 0;
  const audit: ReadinessReport['checks']['audit_writer'] = {
    // dead letters are rows the database refused, not an outage: a warning, the instance keeps serving
    status: !databaseAvailable || stats.queued >= AUDIT_MAX_QUEUE ? 'fail' : deadLetters > 0 ? 'warn' : 'ok',
    queue_depth: stats.queued,
    flush_failures: stats.flushFailures,
    spool_bytes: stats.spoolBytes ?? 0,
    dropped: stats.dropped ?? 0,
    dead_letters: deadLetters,
    database_available: databaseAvailable,
  };

  const disk: ReadinessReport['checks']['disk'] = { status: 'fail', free_bytes: null, total_bytes: null, free_ratio: null };
  try {
    const { free, total } = await diskSpace(sources.dataDir);
    Object.assign(disk, { free_bytes: free, total_bytes: total, free_ratio: total ? Math.round((free / total) * 1000) / 1000 : null });
    disk.status = free >= DISK_MIN_FREE_BYTES ? 'ok' : 'fail';
  } catch (error) {
    sources.onError?.('disk', error);
  }

  const issuance: ReadinessReport['checks']['token_issuance'] = {
    status: 'fail',
    client_registry_age_ms: null,
    signing_keys_age_ms: null,
    active_signing_key: false,
  };
  try {
    const health = await sources.issuance(timeoutMs);
    Object.assign(issuance, { client_registry_age_ms: health.registry.ageMs, signing_keys_age_ms: health.keys.ageMs, active_signing_key: health.keys.signing });
    issuance.status = health.registry.usable && health.keys.usable && health.keys.signing ? 'ok' : 'fail';
  } catch (error) {
    sources.onError?.('token_issuance', error);
  }

  const ready = database.status === 'ok' && audit.status !== 'fail' && disk.status === 'ok' && issuance.status === 'ok';
  return {
    status: ready ? 'ready' : 'unavailable',
    checks: { database, audit_writer: audit, disk, token_issuance: issuance, maintenance: maintenanceCheck(sources.maintenance?.()) },
  };
}

function maintenanceCheck(status: MaintenanceStatus | undefined): ReadinessReport['checks']['maintenance'] {
  if (!status) return { status: 'not_started', rounds: 0, jobs: {} };
  const jobs = Object.fromEntries(
    Object.entries(status.jobs).map(([name, job]) => [name, job.runs === 0 ? 'pending' : job.lastError === null ? 'ok' : 'fail'] as const),
  );
  return { status: !status.started ? 'not_started' : Object.values(jobs).includes('fail') ? 'warn' : 'ok', rounds: status.rounds, jobs };
}

/** What an anonymous caller sees: every check's state, without pool sizes, disk bytes or the database kind. */
export function redactReadiness(report: ReadinessReport): unknown {
  const { database, disk, ...rest } = report.checks;
  return { status: report.status, checks: { database: { status: database.status, latency_ms: database.latency_ms }, disk: { status: disk.status }, ...rest } };
}
