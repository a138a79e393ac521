#!/usr/bin/env node
// The benchmark: starts each server pinned to one core, loads it with autocannon from this process pinned
// to the other core, and reports req/s, p50 and p99 latency per scenario plus the ours/peer ratios.
// `npm run bench`; see bench/README.md for the environment variables.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measure, preflight } from './lib/load.mjs';
import { cpusAllowed, hasTaskset, isolateOtherProcesses, stopAllSpawned, waitForQuiet } from './lib/proc.mjs';
import { baselineGroup, NotImplementedError, ourAuditOffGroup, ourGroups } from './targets/ours.mjs';
import { peerGroups } from './targets/peer.mjs';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(BENCH_DIR, '..');
const RESULTS_DIR = join(BENCH_DIR, 'results');
const TARGET_RATIO = 1.5;
const RATIO_SCENARIOS = [
  // [ratio name, our scenario, peer scenario (id/variant)]
  ['client_credentials', { id: 'client_credentials', variant: 'jwt' }, { id: 'client_credentials', variant: 'jwt' }],
  // RFC 8707: resource= naming an RS256 API on both servers
  ['client_credentials RS256 resource=', { id: 'client_credentials', variant: 'rs256-resource' }, { id: 'client_credentials', variant: 'rs256-resource' }],
  ['userinfo', { id: 'userinfo' }, { id: 'userinfo' }],
];

function intEnv(name, fallback, min = 1) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`${name} must be an integer >= ${min}, got "${raw}"\n`);
    process.exit(64);
  }
  return value;
}
const list = (name) =>
  process.env[name]
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const config = {
  duration: intEnv('DURATION', 10),
  warmup: intEnv('WARMUP', 2, 0),
  connections: intEnv('CONNECTIONS', 50),
  serverCpu: process.env.BENCH_SERVER_CPU ?? '0',
  loadCpu: process.env.BENCH_LOADGEN_CPU ?? '1',
  pin: process.env.BENCH_NO_PIN !== '1',
  servers: list('SERVERS') ?? ['peer', 'ours', 'ours-audit-off'],
  scenarios: list('SCENARIOS'), // scenario ids, or id:variant; all when unset
  write: process.env.BENCH_NO_WRITE !== '1',
  waitQuiet: intEnv('BENCH_WAIT_QUIET', 0, 0), // seconds to wait for an idle machine before each scenario
  retryNoisy: intEnv('BENCH_RETRY_NOISY', 0, 0), // re-runs of a scenario flagged noisy; the quietest attempt is kept
  isolate: process.env.BENCH_ISOLATE === '1', // move every other process to the load generator's core
  rounds: intEnv('BENCH_ROUNDS', 1), // every server and scenario this many times, alternating; medians reported
  // both servers started once and kept running; the ratio scenarios measured in this many alternating slices
  interleave: intEnv('BENCH_INTERLEAVE', 0, 0),
  // with BENCH_INTERLEAVE: our server from this checkout (built) takes the peer's place, e.g. the parent commit
  baselineRoot: process.env.BENCH_BASELINE_ROOT ? resolve(process.env.BENCH_BASELINE_ROOT) : null,
};
if (config.baselineRoot && !config.interleave) {
  process.stderr.write('BENCH_BASELINE_ROOT needs BENCH_INTERLEAVE=N (the two builds are compared in interleaved slices)\n');
  process.exit(64);
}

// --- pin this process (the load generator) to its core: re-exec under taskset once ---
if (config.pin) {
  if (!hasTaskset()) {
    process.stderr.write('taskset not found (util-linux); install it or set BENCH_NO_PIN=1 for an unpinned (not comparable) run\n');
    process.exit(69);
  }
  if (process.env.BENCH_LOADGEN_PINNED !== '1') {
    const r = spawnSync('taskset', ['-c', config.loadCpu, process.execPath, ...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_LOADGEN_PINNED: '1' },
    });
    process.exit(r.status ?? 1);
  }
}

const log = (msg) => process.stderr.write(`[bench] ${msg}\n`);

// BENCH_ISOLATE=1: the server's core for the server alone (other processes share the load generator's core)
const restoreAffinity = config.pin && config.isolate ? isolateOtherProcesses(config.loadCpu) : () => {};
process.once('exit', () => restoreAffinity());

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`${signal}: stopping the servers`);
    stopAllSpawned().finally(() => {
      restoreAffinity();
      process.exit(130);
    });
  });
}

function version(pkg) {
  try {
    return JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function gitRevision(cwd = ROOT) {
  const rev = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd, encoding: 'utf8' });
  return rev.status === 0 ? `${rev.stdout.trim()}${dirty.stdout.trim() ? ' (dirty)' : ''}` : 'unknown';
}

function wanted(scenario) {
  if (!config.scenarios) return true;
  return config.scenarios.some((s) => s === scenario.id || s === `${scenario.id}:${scenario.variant}`);
}

// --- run ---
const meta = {
  date: new Date().toISOString(),
  git: gitRevision(),
  ...(config.baselineRoot ? { baselineGit: gitRevision(config.baselineRoot) } : {}),
  node: process.version,
  oidcProvider: version('oidc-provider'),
  autocannon: version('autocannon'),
  cpu: os.cpus()[0]?.model ?? 'unknown',
  cores: os.cpus().length,
  duration: config.duration,
  warmup: config.warmup,
  connections: config.connections,
  loadgenCpus: cpusAllowed(),
  serverCpus: config.pin ? config.serverCpu : 'unpinned',
  loadavgAtStart: os.loadavg()[0],
  isolated: config.pin && config.isolate,
};
if (meta.loadavgAtStart > 0.5) log(`WARNING: load average ${meta.loadavgAtStart.toFixed(2)} before starting: other processes will skew the numbers`);
log(
  `duration ${config.duration}s (+${config.warmup}s warmup), ${config.connections} connections; load generator on CPU ${meta.loadgenCpus}, servers on CPU ${meta.serverCpus}`,
);

const rows = [];
const skipped = [];
const failures = [];

/** One scenario against a running server: pre-flight, then the measurement; the row is pushed. */
async function runScenario(group, srv, scenario, round, serverCpus) {
  const row = { round, scenario: scenario.id, variant: scenario.variant, label: scenario.label, server: group.server, group: group.id, serverCpus };
  try {
    const { load, check } = scenario.build(srv);
    const pre = await preflight(srv.baseUrl, load);
    if (pre && check) check(pre);
    else if (pre && (pre.status < 200 || pre.status >= 300)) throw new Error(`HTTP ${pre.status}: ${pre.text.slice(0, 300)}`);
    // pooled scenarios are not retried: a second attempt would need a second pool
    const attempts = 1 + (load.pools?.length ? 0 : config.retryNoisy);
    let best = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (config.waitQuiet) await waitForQuiet({ timeoutS: config.waitQuiet, log });
      log(`run ${group.id} ${scenario.label}${round > 1 ? ` (round ${round})` : ''}${attempt > 1 ? ` (attempt ${attempt}, previous was noisy)` : ''}`);
      const result = await measure({
        url: srv.baseUrl,
        load,
        connections: config.connections,
        duration: config.duration,
        warmup: config.warmup,
        serverPid: srv.proc.pid,
        serverCpu: config.pin ? config.serverCpu : null,
        isolated: config.pin && config.isolate,
      });
      result.attempt = attempt;
      if (!best || (result.valid && (!best.valid || (result.cpu.otherPct ?? 0) < (best.cpu.otherPct ?? 0)))) best = result;
      const noisy = result.warnings.some((w) => w.startsWith('other processes'));
      if (!result.valid || !noisy) break;
      log(`  noisy: ${result.rps.toFixed(0)} req/s with ${result.cpu.otherPct}% other CPU`);
    }
    Object.assign(row, best);
  } catch (error) {
    Object.assign(row, {
      valid: false,
      problems: [`pre-flight/setup: ${error.message}`],
      warnings: [],
      rps: 0,
      p50: null,
      p99: null,
      non2xx: 0,
      errors: 0,
      timeouts: 0,
    });
  }
  if (!row.valid) log(`INVALID ${group.id} ${scenario.label}: ${row.problems.join('; ')}`);
  else
    log(
      `  ${row.rps.toFixed(0)} req/s, p50 ${row.p50} ms, p99 ${row.p99} ms; CPU server ${row.cpu.serverPct}%, load generator ${row.cpu.loadgenPct}%, other ${row.cpu.otherPct}%`,
    );
  for (const w of row.warnings ?? []) log(`  WARNING: ${w}`);
  rows.push(row);
}

/** Starts a group's server and checks its pinning; null (and a failure recorded) when that fails. */
async function startGroup(group) {
  log(`start ${group.id}`);
  let srv;
  try {
    srv = await group.start({ cpu: config.pin ? config.serverCpu : null, root: ROOT, ...config });
  } catch (error) {
    failures.push({ group: group.id, server: group.server, reason: error.message });
    log(`FAILED TO START ${group.id}: ${error.message}`);
    return null;
  }
  const serverCpus = cpusAllowed(srv.proc.pid);
  if (config.pin && serverCpus !== config.serverCpu) {
    failures.push({ group: group.id, server: group.server, reason: `server runs on CPUs ${serverCpus}, expected ${config.serverCpu}` });
    await srv.stop();
    return null;
  }
  return { srv, serverCpus };
}

// BENCH_INTERLEAVE=N: both servers run side by side on the server core (the one not under load is idle), and
// the ratio scenarios alternate between them in N short slices (order swapped every slice). On this VM the
// CPU's speed drifts by 20-40% over minutes; slices seconds apart see the same machine, rounds minutes apart
// do not.
if (config.interleave) {
  const peerGroup = config.baselineRoot ? baselineGroup(config.baselineRoot) : peerGroups.find((g) => g.id === 'peer-jwt');
  const ourGroup = ourGroups[0];
  const pairs = RATIO_SCENARIOS.map(([, oursSel, peerSel]) => {
    const otherSel = config.baselineRoot ? oursSel : peerSel;
    const pick = (scenarios, sel) => scenarios.find((s) => s.id === sel.id && (!sel.variant || s.variant === sel.variant));
    return [pick(peerGroup.scenarios, otherSel), pick(ourGroup.scenarios, oursSel)];
  }).filter(([peerScenario, ourScenario]) => peerScenario && ourScenario && wanted(ourScenario));
  const peer = await startGroup(peerGroup);
  const ours = peer && (await startGroup(ourGroup));
  try {
    if (peer && ours) {
      for (let slice = 1; slice <= config.interleave; slice++) {
        for (const [peerScenario, ourScenario] of pairs) {
          const order =
            slice % 2
              ? [
                  [peerGroup, peer, peerScenario],
                  [ourGroup, ours, ourScenario],
                ]
              : [
                  [ourGroup, ours, ourScenario],
                  [peerGroup, peer, peerScenario],
                ];
          for (const [group, started, scenario] of order) await runScenario(group, started.srv, scenario, slice, started.serverCpus);
        }
      }
    }
  } finally {
    await ours?.srv.stop();
    await peer?.srv.stop();
  }
}

for (let round = 1; round <= (config.interleave ? 0 : config.rounds); round++)
  for (const group of [...peerGroups, ...ourGroups, ourAuditOffGroup]) {
    if (!config.servers.includes(group.server)) continue;
    if (config.rounds > 1) log(`round ${round} of ${config.rounds}`);
    const scenarios = group.scenarios.filter(wanted);
    if (!scenarios.length) continue;
    if (group.available && !group.available(ROOT)) {
      const reason = 'apps/identity-provider/lib/oidc does not exist yet (our OIDC endpoints are not written)';
      log(`skip ${group.id}: ${reason}`);
      skipped.push({ group: group.id, server: group.server, reason });
      continue;
    }

    log(`start ${group.id}`);
    let srv;
    try {
      srv = await group.start({ cpu: config.pin ? config.serverCpu : null, root: ROOT, ...config });
    } catch (error) {
      const notYet = error instanceof NotImplementedError;
      log(`${notYet ? 'NOT IMPLEMENTED' : 'FAILED TO START'} ${group.id}: ${error.message}`);
      (notYet ? skipped : failures).push({ group: group.id, server: group.server, reason: error.message });
      if (notYet) failures.push({ group: group.id, server: group.server, reason: 'startOurServer() TODO not finished' });
      continue;
    }
    const serverCpus = cpusAllowed(srv.proc.pid);
    if (config.pin && serverCpus !== config.serverCpu) {
      failures.push({ group: group.id, server: group.server, reason: `server runs on CPUs ${serverCpus}, expected ${config.serverCpu}` });
      await srv.stop();
      continue;
    }

    try {
      for (const scenario of scenarios) await runScenario(group, srv, scenario, round, serverCpus);
    } finally {
      await srv.stop();
    }
  }

// --- ratios (with BENCH_ROUNDS > 1: medians over the rounds; each ratio pairs the two servers of one round) ---
const median = (xs) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const matches = (server, sel) => (r) => r.server === server && r.scenario === sel.id && (sel.variant === undefined || r.variant === sel.variant) && r.valid;
const perRound = (server, sel) => new Map(rows.filter(matches(server, sel)).map((r) => [r.round, r.rps]));
function compare(a, b) {
  const ra = perRound(...a);
  const rb = perRound(...b);
  const paired = [...ra.keys()].filter((round) => rb.has(round));
  return {
    a: median([...ra.values()]),
    b: median([...rb.values()]),
    ratio: median(paired.map((round) => ra.get(round) / rb.get(round))),
    rounds: paired.length,
  };
}
// against a baseline build the target is "no more than 3% slower" (a change must not cost throughput)
const BASELINE_TARGET_RATIO = 0.97;
const ratios = RATIO_SCENARIOS.map(([name, oursSel, peerSel]) => {
  const {
    a: ours,
    b: peer,
    ratio,
    rounds,
  } = config.baselineRoot ? compare(['ours', oursSel], ['baseline', oursSel]) : compare(['ours', oursSel], ['peer', peerSel]);
  const target = config.baselineRoot ? BASELINE_TARGET_RATIO : TARGET_RATIO;
  return { name, ours, peer, ratio, rounds, target, meetsTarget: ratio === null ? null : ratio >= target };
});

// the audit writer's cost: client_credentials with the writer on (ours) vs off, same run
const audit = compare(['ours', { id: 'client_credentials' }], ['ours-audit-off', { id: 'client_credentials' }]);
const auditCost = audit.ratio === null ? null : { on: audit.a, off: audit.b, loss: 1 - audit.ratio, rounds: audit.rounds, target: 0.1 };

// --- report ---
const fmt = (n, digits = 0) => (n === null || n === undefined || Number.isNaN(n) ? '—' : Number(n).toFixed(digits));
function markdown() {
  const lines = [
    `Run ${meta.date} (git ${meta.git}${meta.baselineGit ? `, baseline git ${meta.baselineGit}` : ''}): ${meta.duration} s measured after ${meta.warmup} s warmup, ${meta.connections} connections, ` +
      `servers pinned to CPU ${meta.serverCpus}, autocannon ${meta.autocannon} on CPU ${meta.loadgenCpus}` +
      `${meta.isolated ? ' (BENCH_ISOLATE: every other process moved to that core too; "other" counts them)' : ''}. ` +
      `Node ${meta.node}, oidc-provider ${meta.oidcProvider}, ${meta.cpu} (${meta.cores} cores).`,
    '',
    '| Scenario | Server | Round | req/s | p50 ms | p99 ms | errors | CPU server / autocannon / other |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- | --- |',
  ];
  for (const r of rows) {
    const errors = (r.non2xx ?? 0) + (r.errors ?? 0) + (r.timeouts ?? 0);
    const status = r.valid ? String(errors) : `INVALID: ${r.problems.join('; ')}`;
    lines.push(
      `| ${r.label} | ${r.server === 'peer' ? 'oidc-provider' : r.server} | ${r.round} | ${fmt(r.rps)} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${status} | ${r.cpu ? `${fmt(r.cpu.serverPct)}% / ${fmt(r.cpu.loadgenPct)}% / ${fmt(r.cpu.otherPct)}%` : '—'}${r.warnings?.length ? ' ⚠' : ''} |`,
    );
  }
  for (const s of skipped) lines.push(`| (${s.group}) | ${s.server} | — | — | — | — | skipped: ${s.reason} | — |`);
  const of = config.interleave ? `, median of ${config.interleave} interleaved slices` : config.rounds > 1 ? `, median of ${config.rounds} rounds` : '';
  const other = config.baselineRoot ? `baseline (${config.baselineRoot})` : 'oidc-provider';
  lines.push(
    '',
    `| Ratio (ours / ${other}, req/s${of}) | ours | ${config.baselineRoot ? 'baseline' : 'oidc-provider'} | ratio | target |`,
    '| --- | ---: | ---: | ---: | --- |',
  );
  for (const r of ratios) {
    const verdict = r.ratio === null ? 'not measured' : `${r.meetsTarget ? 'met' : 'NOT met'} (≥ ${r.target}×)`;
    lines.push(`| ${r.name} | ${fmt(r.ours)} | ${fmt(r.peer)} | ${r.ratio === null ? '—' : `${r.ratio.toFixed(2)}×`} | ${verdict} |`);
  }
  if (auditCost) {
    lines.push(
      '',
      `Audit writer cost on client_credentials${of}: ${fmt(auditCost.on)} req/s with it, ${fmt(auditCost.off)} without: ${(auditCost.loss * 100).toFixed(1)}% loss (target < ${auditCost.target * 100}%: ${auditCost.loss < auditCost.target ? 'met' : 'NOT met'}).`,
    );
  }
  const warned = rows.filter((r) => r.warnings?.length);
  if (warned.length) lines.push('', ...warned.map((r) => `- ⚠ ${r.label} (${r.server}): ${r.warnings.join('; ')}`));
  if (failures.length) lines.push('', ...failures.map((f) => `- FAILED ${f.group}: ${f.reason}`));
  return `${lines.join('\n')}\n`;
}

const md = markdown();
process.stdout.write(`\n${md}`);

function writeAtomic(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}
if (config.write) {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeAtomic(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify({ meta, config, rows, ratios, auditCost, skipped, failures }, null, 2)}\n`);
  writeAtomic(join(RESULTS_DIR, 'latest.md'), `# Benchmark results\n\n${md}`);
  log(`wrote ${join('bench', 'results', 'latest.json')} and latest.md`);
}

const invalid = rows.filter((r) => !r.valid);
if (invalid.length || failures.length) {
  log(`FAILED: ${invalid.length} invalid result(s), ${failures.length} failure(s) — numbers above are not valid`);
  process.exit(1);
}
