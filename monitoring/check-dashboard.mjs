#!/usr/bin/env node
// Static checks for monitoring/grafana-auth-dashboard.json (no dependencies).
//
//   node monitoring/check-dashboard.mjs monitoring/grafana-auth-dashboard.json [--emit-rules FILE]
//
// - the file parses, has uid/title/schemaVersion and the DS_PROMETHEUS input/variable
// - panel ids are unique, panels do not overlap, the required panels exist
// - every PromQL `expr` (and variable query) only uses the metric names the
//   identity provider emits, known PromQL functions and known label names,
//   with balanced brackets and quotes (a small PromQL lexer, not promtool)
// - with --emit-rules, writes every expr (Grafana variables substituted) as a
//   recording rule so that check.sh can let `promtool check rules` parse them
import { readFileSync, writeFileSync } from 'node:fs';

// Keep in sync with apps/identity-provider/lib/observability/metrics.ts.
const METRICS = new Set([
  'auth_logins_total',
  'auth_refresh_total',
  'auth_errors_total',
  'auth_oauth_total',
  'auth_password_reset_total',
  'auth_tokens_issued_total',
  'auth_token_reuse_detected_total',
  'auth_rate_limited_total',
  'auth_csrf_failures_total',
  'auth_active_sessions',
  'audit_writer_queue_depth',
  'audit_writer_spool_bytes',
  'audit_writer_flush_failures_total',
  'audit_writer_events_written_total',
  'database_errors_total',
  'database_pool_connections',
  'mail_messages_total',
  'up', // Prometheus' own scrape health
]);
const HISTOGRAMS = ['auth_operation_latency_seconds', 'auth_refresh_latency_seconds'];
for (const h of HISTOGRAMS) for (const s of ['_bucket', '_sum', '_count']) METRICS.add(h + s);
const METRIC_PREFIXES = ['process_', 'nodejs_']; // prom-client collectDefaultMetrics()

const LABELS = new Set([
  'job',
  'instance',
  'le',
  'result',
  'method',
  'operation',
  'error_type',
  'step',
  'event',
  'grant_type',
  'client_id',
  'kind',
  'endpoint',
  'state',
  'template',
  // labels of prom-client default metrics
  'version',
  'major',
  'minor',
  'patch',
  'type',
  'space',
]);

const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);
const FUNCTIONS = new Set([
  'abs',
  'absent',
  'absent_over_time',
  'ceil',
  'changes',
  'clamp',
  'clamp_max',
  'clamp_min',
  'day_of_month',
  'day_of_week',
  'day_of_year',
  'days_in_month',
  'delta',
  'deriv',
  'exp',
  'floor',
  'histogram_count',
  'histogram_sum',
  'histogram_fraction',
  'histogram_quantile',
  'holt_winters',
  'hour',
  'idelta',
  'increase',
  'irate',
  'label_join',
  'label_replace',
  'ln',
  'log2',
  'log10',
  'minute',
  'month',
  'predict_linear',
  'rate',
  'resets',
  'round',
  'scalar',
  'sgn',
  'sort',
  'sort_desc',
  'sqrt',
  'time',
  'timestamp',
  'vector',
  'year',
  'avg_over_time',
  'min_over_time',
  'max_over_time',
  'sum_over_time',
  'count_over_time',
  'quantile_over_time',
  'stddev_over_time',
  'stdvar_over_time',
  'last_over_time',
  'present_over_time',
  'acos',
  'acosh',
  'asin',
  'asinh',
  'atan',
  'atanh',
  'cos',
  'cosh',
  'sin',
  'sinh',
  'tan',
  'tanh',
  'deg',
  'rad',
  'pi',
  ...AGGREGATIONS,
]);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'atan2', 'inf', 'nan']);

const REQUIRED_PANELS = [
  'Authentication Overview',
  'Login Success Rate',
  'Active Sessions',
  'Authentication Events Timeline',
  'Authentication Latency',
  'Security Events',
  'OAuth Events',
  'Password Reset/Change Activity',
  'Authentication Method Distribution',
  'Error Rate Heatmap',
  'Token issuance by grant type',
  'Token issuance by client',
  'Audit writer queue depth',
  'Audit writer spool bytes',
  'Audit writer flushes',
];

// Grafana variables -> values that make a valid PromQL expression for promtool.
const VARIABLES = {
  __rate_interval: '1m',
  __interval: '1m',
  __range: '1h',
  job: 'identity-provider',
  instance: '.*',
  operation: 'login',
};

const isMetricAllowed = (name) => METRICS.has(name) || METRIC_PREFIXES.some((p) => name.startsWith(p));

/** Lexes one PromQL expression and returns a list of problems. */
export function checkExpr(expr, used = new Set()) {
  const problems = [];
  const stack = [];
  const pairs = { ')': '(', ']': '[', '}': '{' };
  let i = 0;
  let afterOffset = false;
  let pendingGrouping = false; // saw by/without/on/... and expect "("
  let inGrouping = false; // inside the label list of a grouping clause
  const peekNonSpace = (from) => {
    let j = from;
    while (j < expr.length && /\s/.test(expr[j])) j++;
    return expr[j];
  };
  while (i < expr.length) {
    const c = expr[i];
    const top = stack[stack.length - 1];
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      while (j < expr.length && expr[j] !== c) j += expr[j] === '\\' && c !== '`' ? 2 : 1;
      if (j >= expr.length) {
        problems.push(`unterminated string at ${i}`);
        break;
      }
      i = j + 1;
      continue;
    }
    if (c === '#') {
      while (i < expr.length && expr[i] !== '\n') i++;
      continue;
    }
    if (c === '$') {
      // Grafana variable: $name or ${name...}
      const m = /^\$(\{[^}]*\}|\w+)/.exec(expr.slice(i));
      if (!m) {
        problems.push(`stray "$" at ${i}`);
        i++;
        continue;
      }
      i += m[0].length;
      afterOffset = false;
      continue;
    }
    if ('([{'.includes(c)) {
      stack.push(c);
      if (c === '(' && pendingGrouping) {
        inGrouping = true;
        pendingGrouping = false;
      }
      i++;
      continue;
    }
    if (')]}'.includes(c)) {
      if (stack.pop() !== pairs[c]) {
        problems.push(`unbalanced "${c}" at ${i}`);
        break;
      }
      if (c === ')') inGrouping = false;
      i++;
      continue;
    }
    const num = /^(0x[0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?(?:ms|[smhdwy])?(?:\d+(?:ms|[smhdwy]))*)/.exec(expr.slice(i));
    if (num && num[0] && !/[a-zA-Z_:]/.test(expr[i + num[0].length] ?? '')) {
      i += num[0].length;
      afterOffset = false;
      continue;
    }
    const ident = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i));
    if (ident) {
      const name = ident[0];
      i += name.length;
      if (top === '[') continue; // range / subquery durations
      if (top === '{' || inGrouping) {
        if (name === '__name__') problems.push('matching on __name__ is not allowed (metric would escape this check)');
        else if (!LABELS.has(name)) problems.push(`unknown label "${name}"`);
        continue;
      }
      if (afterOffset) {
        afterOffset = false;
        continue;
      }
      const lower = name.toLowerCase();
      if (GROUPING.has(lower)) {
        if (peekNonSpace(i) === '(') pendingGrouping = true;
        continue;
      }
      if (lower === 'offset') {
        afterOffset = true;
        continue;
      }
      if (KEYWORDS.has(lower)) continue;
      if (AGGREGATIONS.has(name) && /^\s*(by|without)\s*\(/i.test(expr.slice(i))) continue; // sum by (x) (...)
      if (peekNonSpace(i) === '(') {
        if (!FUNCTIONS.has(name)) problems.push(`unknown PromQL function "${name}"`);
        continue;
      }
      if (isMetricAllowed(name)) used.add(name);
      else problems.push(`metric "${name}" is not emitted by the identity provider`);
      continue;
    }
    if ('+-*/%^=!~<>,'.includes(c) || c === '@') {
      i++;
      continue;
    }
    problems.push(`unexpected character "${c}" at ${i}`);
    i++;
  }
  if (stack.length) problems.push(`unclosed "${stack.join('')}"`);
  return problems;
}

function substituteVariables(expr) {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, a, b) => {
    const name = a ?? b;
    if (!(name in VARIABLES)) throw new Error(`no test value for Grafana variable ${whole}`);
    return VARIABLES[name];
  });
}

function main() {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith('--')) ?? 'monitoring/grafana-auth-dashboard.json';
  const emitIdx = args.indexOf('--emit-rules');
  const emitFile = emitIdx >= 0 ? args[emitIdx + 1] : undefined;
  const errors = [];
  const err = (msg) => errors.push(msg);

  let dash;
  try {
    dash = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    console.error(`${file}: not valid JSON: ${e.message}`);
    process.exit(1);
  }

  if (typeof dash.uid !== 'string' || !dash.uid) err('dashboard has no uid');
  if (typeof dash.title !== 'string' || !dash.title) err('dashboard has no title');
  if (typeof dash.schemaVersion !== 'number' || dash.schemaVersion < 36) err(`schemaVersion ${dash.schemaVersion} is too old (want >= 36)`);
  const hasInput = (dash.__inputs ?? []).some((x) => x.name === 'DS_PROMETHEUS' && x.pluginId === 'prometheus');
  const vars = dash.templating?.list ?? [];
  const hasVar = vars.some((v) => v.name === 'DS_PROMETHEUS' && v.type === 'datasource' && v.query === 'prometheus');
  if (!hasInput && !hasVar) err('no DS_PROMETHEUS datasource input or variable');

  const panels = [];
  const walk = (list) => {
    for (const p of list ?? []) {
      panels.push(p);
      walk(p.panels);
    }
  };
  walk(dash.panels);

  const ids = new Set();
  for (const p of panels) {
    if (ids.has(p.id)) err(`duplicate panel id ${p.id} (${p.title})`);
    ids.add(p.id);
  }
  const boxes = panels.filter((p) => p.gridPos);
  for (let a = 0; a < boxes.length; a++) {
    const A = boxes[a].gridPos;
    if (A.x < 0 || A.x + A.w > 24) err(`panel "${boxes[a].title}" is outside the 24-column grid`);
    for (let b = a + 1; b < boxes.length; b++) {
      const B = boxes[b].gridPos;
      if (A.x < B.x + B.w && B.x < A.x + A.w && A.y < B.y + B.h && B.y < A.y + A.h) {
        err(`panels "${boxes[a].title}" and "${boxes[b].title}" overlap`);
      }
    }
  }
  const titles = new Set(panels.map((p) => p.title));
  for (const t of REQUIRED_PANELS) if (!titles.has(t)) err(`missing panel "${t}"`);

  const used = new Set();
  const rules = [];
  let exprCount = 0;
  for (const p of panels) {
    if (p.type === 'row') continue;
    const targets = p.targets ?? [];
    if (targets.length === 0) err(`panel "${p.title}" has no queries`);
    const ds = p.datasource?.uid;
    if (ds !== '${DS_PROMETHEUS}') err(`panel "${p.title}" does not use the \${DS_PROMETHEUS} datasource (got ${JSON.stringify(ds)})`);
    for (const t of targets) {
      if (typeof t.expr !== 'string' || !t.expr.trim()) {
        err(`panel "${p.title}" ${t.refId}: empty expr`);
        continue;
      }
      exprCount++;
      for (const problem of checkExpr(t.expr, used)) err(`panel "${p.title}" ${t.refId}: ${problem}\n    ${t.expr}`);
      try {
        rules.push({ record: `dashboard:panel_${p.id}_${t.refId}`, expr: substituteVariables(t.expr) });
      } catch (e) {
        err(`panel "${p.title}" ${t.refId}: ${e.message}`);
      }
    }
  }
  for (const v of vars) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query;
    const m = /^label_values\((.*),\s*(\w+)\)$/.exec(q ?? '');
    if (!m) {
      err(`variable ${v.name}: expected label_values(selector, label), got ${JSON.stringify(q)}`);
      continue;
    }
    exprCount++;
    for (const problem of checkExpr(m[1], used)) err(`variable ${v.name}: ${problem}`);
    if (!LABELS.has(m[2])) err(`variable ${v.name}: unknown label "${m[2]}"`);
    if (!/\$\{?job\b/.test(m[1]) && v.name !== 'job') err(`variable ${v.name}: selector should filter on $job`);
  }

  if (emitFile) {
    const yaml = [
      '# generated by monitoring/check-dashboard.mjs from the dashboard exprs; only for `promtool check rules`',
      'groups:',
      '  - name: dashboard-exprs',
      '    rules:',
      ...rules.flatMap((r) => [`      - record: ${r.record}`, `        expr: ${JSON.stringify(r.expr)}`]),
      '',
    ].join('\n');
    writeFileSync(emitFile, yaml);
  }

  if (errors.length) {
    for (const e of errors) console.error(`ERROR: ${e}`);
    console.error(`${file}: ${errors.length} problem(s)`);
    process.exit(1);
  }
  console.log(`${file}: OK (${panels.length} panels, ${exprCount} queries; metrics used: ${[...used].sort().join(', ')})`);
}

main();
