import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import postgres from 'postgres';

/**
 * A Postgres cluster of a test's own (Debian's pg_createcluster), which the test may stop, freeze or lock
 * without touching the shared server on 5432. Created once per machine and left stopped afterwards.
 * Needs root and postgresql-common; `unavailableReason()` says why not, so a local run can skip in one
 * line while CI (CI=true) fails instead.
 */
export class TestCluster {
  constructor(readonly name: string, readonly port: number, readonly version = '15') {}

  static unavailableReason(): string | null {
    if (process.getuid?.() !== 0) return 'needs root (pg_createcluster)';
    if (!existsSync('/usr/bin/pg_createcluster')) return 'needs postgresql-common (pg_createcluster)';
    return null;
  }

  get adminUrl(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  #ctl(...args: string[]): void {
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', this.version, this.name, ...args], { stdio: 'pipe' });
  }

  #exists(): boolean {
    return existsSync(`/etc/postgresql/${this.version}/${this.name}/postgresql.conf`);
  }

  running(): boolean {
    const out = execFileSync('pg_lsclusters', ['--no-header', this.version, this.name], { encoding: 'utf8' });
    return /\bonline\b/.test(out);
  }

  start(): void {
    if (!this.#exists()) {
      execFileSync('pg_createcluster', [this.version, this.name, '--port', String(this.port), '--', '--auth=trust'], { stdio: 'pipe' });
    }
    if (!this.running()) this.#ctl('start');
  }

  /** As a crash or an operator would: connections are cut at once, new ones refused. */
  stopImmediately(): void {
    if (this.running()) this.#ctl('stop', '-m', 'immediate');
  }

  /** A fresh database on the cluster; returns its URL. */
  async createDatabase(prefix: string): Promise<string> {
    const name = `${prefix}_${Math.random().toString(16).slice(2, 10)}`;
    const admin = postgres(this.adminUrl, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`create database ${name}`);
    } finally {
      await admin.end();
    }
    return `postgres://postgres@127.0.0.1:${this.port}/${name}`;
  }
}
