'use client';

import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import type { ClientTokens, FailureBucket, IssuanceBucket } from '@/lib/analytics/types';
import { bucketLabel, formatCount, GRANT_COLORS, GRANT_LABELS, GRANTS, reasonColor } from './shared';

/**
 * Charts take their data as props only. Each one is drawn for sighted users and described by a text
 * summary (the figure's accessible name) plus a visually hidden table with the same numbers.
 */

function Figure({ label, testId, table, children }: { label: string; testId: string; table: React.ReactNode; children: React.ReactNode }) {
  return (
    <figure role="group" aria-label={label} data-testid={testId} className="m-0">
      <div aria-hidden className="h-64 w-full">
        {children}
      </div>
      <figcaption className="sr-only">{label}</figcaption>
      <div className="sr-only">{table}</div>
    </figure>
  );
}

const axis = { fontSize: 11, fill: '#475569' };

function DataTable({ caption, head, rows }: { caption: string; head: string[]; rows: (string | number)[][] }) {
  return (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          {head.map((h) => (
            <th key={h} scope="col">
              {h}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((r, i) => (
          <tr key={i}>
            {r.map((c, j) =>
              j === 0 ? (
                <th key={j} scope="row">
                  {c}
                </th>
              ) : (
                <td key={j}>{c}</td>
              ),
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function IssuanceChart({ buckets }: { buckets: IssuanceBucket[] }) {
  const total = buckets.reduce((n, b) => n + b.total, 0);
  const peak = buckets.reduce<IssuanceBucket | null>((p, b) => (!p || b.total > p.total ? b : p), null);
  const byGrant = GRANTS.map((g) => `${GRANT_LABELS[g]} ${formatCount(buckets.reduce((n, b) => n + b[g], 0))}`).join(', ');
  const label =
    `Tokens issued over time by grant type: ${formatCount(total)} in ${buckets.length} intervals (${byGrant})` +
    (peak && peak.total ? `; busiest interval ${peak.label} with ${formatCount(peak.total)}.` : '.');
  const data = buckets.map((b) => ({ ...b, axis: bucketLabel(b.label) }));
  return (
    <Figure
      label={label}
      testId="chart-issuance"
      table={
        <DataTable
          caption="Tokens issued by interval and grant type"
          head={['Interval', ...GRANTS.map((g) => GRANT_LABELS[g]), 'Total']}
          rows={buckets.filter((b) => b.total).map((b) => [b.label, ...GRANTS.map((g) => b[g]), b.total])}
        />
      }
    >
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: -16 }} accessibilityLayer={false}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e2e8f0" />
          <XAxis dataKey="axis" tick={axis} minTickGap={16} />
          <YAxis allowDecimals={false} tick={axis} />
          <Tooltip labelFormatter={(_, p) => String(p?.[0]?.payload?.label ?? '')} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {GRANTS.map((g) => (
            <Bar key={g} dataKey={g} name={GRANT_LABELS[g]} stackId="grant" fill={GRANT_COLORS[g]} isAnimationActive={false} />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </Figure>
  );
}

export function ClientChart({ clients, names }: { clients: ClientTokens[]; names: Record<string, string> }) {
  const shown = clients.slice(0, 12);
  const name = (id: string | null) => (id === null ? '(no client)' : (names[id] ?? id));
  const label = clients.length
    ? `Tokens by client: ${shown.map((c) => `${name(c.client_id)} ${formatCount(c.issued)} issued, ${formatCount(c.failed)} failed`).join('; ')}` +
      (clients.length > shown.length ? `; and ${clients.length - shown.length} more clients.` : '.')
    : 'Tokens by client: no clients in this range.';
  const data = shown.map((c) => ({ ...c, name: name(c.client_id) }));
  return (
    <Figure
      label={label}
      testId="chart-clients"
      table={
        <DataTable
          caption="Tokens by client"
          head={['Client', 'Issued', 'Refreshed', 'Failed']}
          rows={clients.map((c) => [name(c.client_id), c.issued, c.refreshed, c.failed])}
        />
      }
    >
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} layout="vertical" margin={{ top: 4, right: 8, bottom: 0, left: 8 }} accessibilityLayer={false}>
          <CartesianGrid strokeDasharray="3 3" horizontal={false} stroke="#e2e8f0" />
          <XAxis type="number" allowDecimals={false} tick={axis} />
          <YAxis type="category" dataKey="name" width={110} tick={axis} />
          <Tooltip />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          <Bar dataKey="issued" name="Issued" fill={GRANT_COLORS.authorization_code} isAnimationActive={false} />
          <Bar dataKey="refreshed" name="Refreshed" fill={GRANT_COLORS.refresh_token} isAnimationActive={false} />
          <Bar dataKey="failed" name="Failed" fill="#dc2626" isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </Figure>
  );
}

export function FailuresChart({ reasons, series }: { reasons: string[]; series: FailureBucket[] }) {
  const total = series.reduce((n, b) => n + b.total, 0);
  const byReason = reasons.map((r) => `${r} ${formatCount(series.reduce((n, b) => n + (b.by_reason[r] ?? 0), 0))}`).join(', ');
  const label = total
    ? `Failed token requests over time by reason: ${formatCount(total)} in total (${byReason}).`
    : 'Failed token requests over time: none in this range.';
  const data = series.map((b) => ({ axis: bucketLabel(b.label), label: b.label, ...Object.fromEntries(reasons.map((r) => [`r:${r}`, b.by_reason[r] ?? 0])) }));
  return (
    <Figure
      label={label}
      testId="chart-failures"
      table={
        <DataTable
          caption="Failed token requests by interval and reason"
          head={['Interval', ...reasons, 'Total']}
          rows={series.filter((b) => b.total).map((b) => [b.label, ...reasons.map((r) => b.by_reason[r] ?? 0), b.total])}
        />
      }
    >
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data} margin={{ top: 4, right: 8, bottom: 0, left: -16 }} accessibilityLayer={false}>
          <CartesianGrid strokeDasharray="3 3" vertical={false} stroke="#e2e8f0" />
          <XAxis dataKey="axis" tick={axis} minTickGap={16} />
          <YAxis allowDecimals={false} tick={axis} />
          <Tooltip labelFormatter={(_, p) => String(p?.[0]?.payload?.label ?? '')} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {reasons.map((r, i) => (
            <Bar key={r} dataKey={`r:${r}`} name={r} stackId="reason" fill={reasonColor(i)} isAnimationActive={false} />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </Figure>
  );
}
