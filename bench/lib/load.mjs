// One measured autocannon run (warmup + measurement) and its summary.
import autocannon from 'autocannon';
import { coreBusySeconds, cpuSeconds, machineBusySeconds } from './proc.mjs';

/**
 * @typedef {object} Load  what a scenario sends (autocannon options)
 * @property {string} [method]
 * @property {string} [path]
 * @property {Record<string,string>} [headers]
 * @property {string} [body]
 * @property {object[]} [requests]   autocannon `requests` (setupRequest/onResponse for one-time values)
 * @property {import('./one-time-value-pool.mjs').OneTimeValuePool[]} [pools]  pools the requests draw from
 */

// above this much CPU used by other processes during a measurement (percent of one core), flag the row as noisy
const NOISE_PCT = 10;

function run(opts) {
  return new Promise((resolve, reject) => {
    const instance = autocannon(opts, (error, result) => (error ? reject(error) : resolve(result)));
    opts.onInstance?.(instance);
  });
}

/** Warm up for `warmup` s, then measure for `duration` s. Returns a summary; never throws on HTTP errors. */
export async function measure({ url, load, connections, duration, warmup, timeout = 10, serverPid, serverCpu = null, isolated = false }) {
  const pools = load.pools ?? [];
  let exhausted = null;
  let current;
  for (const pool of pools) {
    pool.onExhausted((p) => {
      exhausted ??= p.name;
      current?.stop();
    });
  }
  const base = {
    url: new URL(load.path ?? '/', url).href,
    connections,
    timeout,
    method: load.method ?? 'GET',
    headers: load.headers ?? {},
    body: load.body,
    requests: load.requests,
    onInstance: (i) => {
      current = i;
    },
  };

  let warm = null;
  if (warmup > 0) {
    const w = await run({ ...base, duration: warmup });
    warm = { requests: w.requests.total, non2xx: w.non2xx, errors: w.errors };
  }
  // CPU use during the measurement: the server should sit near 100% of its core, the load generator below it
  const t0 = process.hrtime.bigint();
  const self0 = process.cpuUsage();
  const server0 = serverPid ? cpuSeconds(serverPid) : null;
  const machine0 = machineBusySeconds();
  const core0 = serverCpu === null || serverCpu === undefined ? null : coreBusySeconds(serverCpu);
  const r = exhausted ? null : await run({ ...base, duration });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const self1 = process.cpuUsage(self0);
  const server1 = serverPid ? cpuSeconds(serverPid) : null;
  const machine1 = machineBusySeconds();
  const core1 = core0 === null ? null : coreBusySeconds(serverCpu);
  const loadgenS = (self1.user + self1.system) / 1e6;
  const serverS = server0 === null || server1 === null ? null : server1 - server0;
  const cpu = {
    loadgenPct: Math.round((loadgenS / wall) * 100),
    serverPct: serverS === null ? null : Math.round((serverS / wall) * 100),
    // everything else that ran on the machine meanwhile (other processes, kernel): the noise in the numbers
    otherPct: machine0 === null || serverS === null ? null : Math.max(0, Math.round(((machine1 - machine0 - serverS - loadgenS) / wall) * 100)),
    // what else ran on the server's own core: the noise that matters most
    serverCoreOtherPct: core0 === null || core1 === null || serverS === null ? null : Math.max(0, Math.round(((core1 - core0 - serverS) / wall) * 100)),
  };
  if (!r) {
    return invalidSummary(`one-time value pool "${exhausted}" ran dry during warmup`, pools, warm);
  }

  const problems = [];
  if (r.non2xx) problems.push(`${r.non2xx} non-2xx responses (${statusSummary(r.statusCodeStats)})`);
  if (r.errors) problems.push(`${r.errors} connection errors`);
  if (r.timeouts) problems.push(`${r.timeouts} timeouts`);
  if (r.mismatches) problems.push(`${r.mismatches} body mismatches`);
  if (exhausted) problems.push(`one-time value pool "${exhausted}" ran dry (fill it bigger or lower DURATION)`);
  if (!r.requests.total) problems.push('no completed requests');
  const warnings = [];
  if (cpu.serverCoreOtherPct !== null && cpu.serverCoreOtherPct > NOISE_PCT) {
    warnings.push(`other processes used ${cpu.serverCoreOtherPct}% of the server's core during the run: numbers are noisy`);
  } else if (!isolated && cpu.otherPct !== null && cpu.otherPct > NOISE_PCT) {
    warnings.push(`other processes used ${cpu.otherPct}% of a core during the run: numbers are noisy`);
  }
  if (isolated && cpu.otherPct !== null && cpu.loadgenPct + cpu.otherPct > 90) {
    warnings.push(
      `the load generator's core was ${cpu.loadgenPct + cpu.otherPct}% busy (autocannon and the isolated processes): the load may be the bottleneck`,
    );
  }
  if (cpu.loadgenPct > 85) warnings.push(`autocannon used ${cpu.loadgenPct}% of its core: the load generator may be the bottleneck`);

  return {
    valid: problems.length === 0,
    problems,
    warnings,
    rps: r.requests.average,
    rpsTotal: r.duration ? r.requests.total / r.duration : 0,
    p50: r.latency.p50,
    p99: r.latency.p99,
    latencyAvg: r.latency.average,
    latencyMax: r.latency.max,
    requests: r.requests.total,
    durationS: r.duration,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats ?? {}).map(([k, v]) => [k, v.count])),
    cpu,
    warmup: warm,
    pools: pools.map((p) => p.stats()),
  };
}

function statusSummary(stats = {}) {
  return Object.entries(stats)
    .map(([code, { count }]) => `${code}: ${count}`)
    .join(', ');
}

function invalidSummary(reason, pools, warm) {
  return {
    valid: false,
    problems: [reason],
    warnings: [],
    rps: 0,
    rpsTotal: 0,
    p50: null,
    p99: null,
    latencyAvg: null,
    latencyMax: null,
    requests: 0,
    durationS: 0,
    non2xx: 0,
    errors: 0,
    timeouts: 0,
    statusCodes: {},
    warmup: warm,
    pools: pools.map((p) => p.stats()),
  };
}

/**
 * Send the scenario's request once (outside the measurement) so `check` can look at status and body.
 * Pooled scenarios (setupRequest) are skipped: they would consume a one-time value; give them their own check.
 */
export async function preflight(baseUrl, load) {
  const first = load.requests?.[0] ?? {};
  if (first.setupRequest) return null;
  const req = {
    method: first.method ?? load.method ?? 'GET',
    path: first.path ?? load.path ?? '/',
    headers: { ...load.headers, ...first.headers },
    body: first.body ?? load.body,
  };
  const res = await fetch(new URL(req.path, baseUrl), { method: req.method, headers: req.headers, body: req.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text };
}
