// Process helpers for the benchmark: pinned server processes, readiness, CPU affinity checks.
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export function hasTaskset() {
  return spawnSync('taskset', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** The CPU list a process may run on ("0", "1", "0-1"), from /proc. */
export function cpusAllowed(pid = 'self') {
  try {
    return /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; null when unavailable. */
export function cpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11], fields[12] = utime, stime (fields 14 and 15 of proc(5)), in clock ticks
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/**
 * Busy CPU seconds of the whole machine so far (all cores, from /proc/stat): user + nice + system + steal.
 * irq/softirq are left out: on loopback they are mostly the benchmark's own network traffic. Null when unavailable.
 */
export function machineBusySeconds() {
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('cpu '));
    const [user, nice, system, , , , , steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + steal) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** Busy CPU seconds of one core so far (user + nice + system + steal of its /proc/stat line); null when unavailable. */
export function coreBusySeconds(cpu) {
  try {
    const line = readFileSync('/proc/stat', 'utf8')
      .split('\n')
      .find((l) => l.startsWith(`cpu${cpu} `));
    const [user, nice, system, , , , , steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + steal) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/**
 * BENCH_ISOLATE=1: moves every process already running (other than this one) to `cpu`, the load generator's
 * core, so the server's core runs the server alone even when someone else uses the machine; children they
 * start inherit it. Needs root or ownership of those processes; ones that refuse are left as they are.
 * Returns a function that puts every moved process back on the cores it had.
 */
export function isolateOtherProcesses(cpu) {
  const moved = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    const before = cpusAllowed(pid);
    if (before === 'unknown' || before === String(cpu)) continue;
    if (spawnSync('taskset', ['-a', '-p', '-c', String(cpu), String(pid)], { stdio: 'ignore' }).status === 0) moved.push([pid, before]);
  }
  return () => {
    for (const [pid, before] of moved) spawnSync('taskset', ['-a', '-p', '-c', before, String(pid)], { stdio: 'ignore' });
  };
}

/** An ephemeral port that is free right now. */
export async function freePort(host = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Start `command args` under `taskset -c cpu` in its own process group (so helpers it forks, e.g. tsx,
 * are stopped with it). Keeps the last 64 KiB of stderr for error reports.
 * `readyLine(line)`: optional; resolves `ready` with its return value once it returns something truthy.
 */
export function spawnPinned({ name, cpu, command, args, cwd, env, readyLine }) {
  const argv = cpu === undefined || cpu === null ? [command, ...args] : ['taskset', '-c', String(cpu), command, ...args];
  const child = spawn(argv[0], argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    stderr = (stderr + d).slice(-65536);
  });
  let resolveReady;
  let rejectReady;
  const ready = new Promise((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  child.stdout.setEncoding('utf8').on('data', (d) => {
    stdout = (stdout + d).slice(-65536);
    if (!readyLine) return;
    for (const line of stdout.split('\n').slice(0, -1)) {
      try {
        const value = readyLine(line);
        if (value) resolveReady(value);
      } catch {
        /* not the ready line */
      }
    }
  });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal })));
  exited.then(() => live.delete(handle));
  // a server without a ready line (waitForHttp is used instead) must not turn a normal exit into an unhandled rejection
  ready.catch(() => {});
  exited.then(({ code, signal }) => rejectReady(new Error(`${name} exited before it was ready (code ${code}, signal ${signal})\n${stderr}`)));
  child.once('error', (error) => rejectReady(error));

  const handle = {
    name,
    pid: child.pid,
    ready,
    exited,
    get stderr() {
      return stderr;
    },
    get stdout() {
      return stdout;
    },
    async stop(graceMs = 5000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        /* already gone */
      }
      const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          /* already gone */
        }
        await exited;
      }
    },
  };
  live.add(handle);
  return handle;
}

// every process spawnPinned started and that is still running: stopped on Ctrl-C (their own process groups
// do not get the terminal's signal)
const live = new Set();
export async function stopAllSpawned() {
  await Promise.all([...live].map((p) => p.stop(3000)));
}

/** Poll `url` until it answers with `status` (default any 2xx), or fail after `timeoutMs`. */
export async function waitForHttp(url, { timeoutMs = 60_000, proc } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    if (proc) {
      const gone = await Promise.race([proc.exited.then(() => true), sleep(0).then(() => false)]);
      if (gone) throw new Error(`${proc.name} exited while waiting for ${url}\n${proc.stderr}`);
    }
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 2000);
    try {
      const res = await fetch(url, { signal: abort.signal });
      await res.arrayBuffer();
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = error.message;
    } finally {
      clearTimeout(timer);
    }
    await sleep(200);
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms (last: ${last})`);
}

/**
 * Wait until the rest of the machine is quiet: busy CPU below `maxPct` (percent of one core) over a 3 s
 * window, for at most `timeoutS` seconds. Returns the last measured busy percentage.
 */
export async function waitForQuiet({ timeoutS, maxPct = 5, log = () => {} }) {
  const deadline = Date.now() + timeoutS * 1000;
  let pct = null;
  for (;;) {
    const b0 = machineBusySeconds();
    await sleep(3000);
    const b1 = machineBusySeconds();
    if (b0 === null || b1 === null) return null;
    pct = Math.round(((b1 - b0) / 3) * 100);
    if (pct <= maxPct) return pct;
    if (Date.now() > deadline) {
      log(`machine still busy (${pct}% of a core) after waiting ${timeoutS}s: measuring anyway`);
      return pct;
    }
    log(`machine busy (${pct}% of a core used by other processes), waiting`);
  }
}
