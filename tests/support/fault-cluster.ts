import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

/**
 * A Postgres cluster of the test's own (never the shared one on 5432), for faults that a shared server must
 * not suffer: frozen (SIGSTOP of the postmaster and every backend) or stopped hard. Created once if missing
 * (`pg_createcluster`, trust auth on local TCP), started by the test, and left stopped by `stop()`.
 */
export const FAULT_CLUSTER = { version: '15', name: 'idpfault', port: 5433 } as const;
const { version, name, port } = FAULT_CLUSTER;
const CONFIG_DIR = `/etc/postgresql/${version}/${name}`;
const DATA_DIR = `/var/lib/postgresql/${version}/${name}`;

/** Why the fault cluster cannot be used here, or null when it can. */
export function faultClusterUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'not root';
  if (spawnSync('which', ['pg_createcluster']).status !== 0) return 'pg_createcluster not installed';
  return null;
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function clusterStatus(): 'missing' | 'online' | 'down' {
  const line = run('pg_lsclusters', ['--no-header'])
    .split('\n')
    .find((l) => l.trim().split(/\s+/).slice(0, 2).join(' ') === `${version} ${name}`);
  if (!line) return 'missing';
  return /\bonline\b/.test(line) ? 'online' : 'down';
}

export const faultClusterUrl = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;

/** Creates the cluster if needed (a re-run reuses it), trusts local connections, and starts it. */
export function startFaultCluster(): void {
  if (clusterStatus() === 'missing') {
    run('pg_createcluster', [version, name, '--port', String(port), '--', '--auth=trust']);
  }
  // ours alone: trust on the loopback, whatever an earlier run left
  writeFileSync(`${CONFIG_DIR}/pg_hba.conf`, ['local all all trust', 'host all all 127.0.0.1/32 trust', 'host all all ::1/128 trust', ''].join('\n'));
  thawFaultCluster(); // an aborted earlier run may have left it frozen
  if (clusterStatus() !== 'online') run('pg_ctlcluster', [version, name, 'start']);
  else run('pg_ctlcluster', [version, name, 'reload']);
}

/** The postmaster and every process it started (backends, checkpointer, walwriter...). */
function clusterPids(): number[] {
  const pidFile = `${DATA_DIR}/postmaster.pid`;
  if (!existsSync(pidFile)) return [];
  const postmaster = Number(readFileSync(pidFile, 'utf8').split('\n', 1)[0]);
  if (!Number.isInteger(postmaster) || postmaster <= 0) return [];
  const children = spawnSync('pgrep', ['-P', String(postmaster)], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
  return [postmaster, ...children];
}

const signal = (pids: number[], sig: NodeJS.Signals) => {
  for (const pid of pids) {
    try {
      process.kill(pid, sig);
    } catch {
      // gone already
    }
  }
};

/** The database hangs: connections stay open, nothing answers (the postmaster first, so it forks no one new). */
export function freezeFaultCluster(): void {
  signal(clusterPids(), 'SIGSTOP');
}

export function thawFaultCluster(): void {
  signal(clusterPids(), 'SIGCONT');
}

/** Stopped hard, as a crash would (no shutdown checkpoint, connections cut). */
export function killFaultCluster(): void {
  run('pg_ctlcluster', [version, name, 'stop', '-m', 'immediate']);
}

export function resumeFaultCluster(): void {
  if (clusterStatus() !== 'online') run('pg_ctlcluster', [version, name, 'start']);
}

/** Leaves the cluster stopped (CI runs on this machine too). */
export function stopFaultCluster(): void {
  thawFaultCluster();
  if (clusterStatus() === 'online') run('pg_ctlcluster', [version, name, 'stop', '-m', 'fast']);
}
