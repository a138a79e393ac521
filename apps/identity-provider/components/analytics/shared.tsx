'use client';

import { Download } from 'lucide-react';
import { toCsv } from '@/lib/security/csv';

export const focusRing = 'focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-1';
export const buttonClass =
  `inline-flex items-center justify-center gap-1.5 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 ` +
  `shadow-sm hover:bg-slate-50 disabled:cursor-not-allowed disabled:opacity-50 ${focusRing}`;

export const GRANT_COLORS = {
  authorization_code: '#2a55db',
  refresh_token: '#0d9488',
  client_credentials: '#9333ea',
  other: '#94a3b8',
} as const;
export const GRANT_LABELS: Record<keyof typeof GRANT_COLORS, string> = {
  authorization_code: 'Authorization code',
  refresh_token: 'Refresh token',
  client_credentials: 'Client credentials',
  other: 'Other',
};
export const GRANTS = Object.keys(GRANT_COLORS) as (keyof typeof GRANT_COLORS)[];
const REASON_COLORS = ['#dc2626', '#ea580c', '#d97706', '#be185d', '#7c3aed', '#475569', '#0891b2', '#65a30d'];
export const reasonColor = (index: number) => REASON_COLORS[index % REASON_COLORS.length];

const integer = new Intl.NumberFormat('en-US');
export const formatCount = (n: number) => integer.format(n);

export function formatRate(rate: number | null): string {
  if (rate === null) return '—';
  return `${(rate * 100).toFixed(1)}%`;
}

export function formatDuration(seconds: number | null): string {
  if (seconds === null) return '—';
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 48 * 3600) return `${(seconds / 3600).toFixed(1).replace(/\.0$/, '')} h`;
  return `${(seconds / 86400).toFixed(1).replace(/\.0$/, '')} days`;
}

/** "2026-11-22T10:00" (hour bucket) or "2026-11-22" (day and longer) into a short axis label. */
export function bucketLabel(label: string): string {
  const hour = /^\d{4}-(\d{2})-(\d{2})T(\d{2}:\d{2})$/.exec(label);
  if (hour) return `${hour[2]}/${hour[1]} ${hour[3]}`;
  const day = /^\d{4}-(\d{2})-(\d{2})$/.exec(label);
  return day ? `${day[2]}/${day[1]}` : label;
}

export function formatTime(iso: string, timeZone: string): string {
  try {
    return new Intl.DateTimeFormat('en-GB', {
      timeZone,
      year: 'numeric',
      month: 'short',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    }).format(new Date(iso));
  } catch {
    return iso;
  }
}

export function Panel({
  title,
  description,
  actions,
  children,
  testId,
}: {
  title: string;
  description?: string;
  actions?: React.ReactNode;
  children: React.ReactNode;
  testId?: string;
}) {
  const id = `panel-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return (
    <section aria-labelledby={id} className="relative min-w-0 rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-5" data-testid={testId}>
      <div className="mb-3 flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          <h2 id={id} className="text-base font-semibold tracking-tight text-slate-900">
            {title}
          </h2>
          {description && <p className="text-xs text-slate-500">{description}</p>}
        </div>
        {actions}
      </div>
      {children}
    </section>
  );
}

// --- CSV: one writer with the audit export (lib/security/csv.ts), formula injection neutralised -----------

export type CsvCell = string | number | boolean | null | undefined;

export function downloadCsv(filename: string, rows: CsvCell[][]): void {
  const blob = new Blob([toCsv(rows)], { type: 'text/csv;charset=utf-8' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function CsvButton({ filename, rows, label = 'CSV', testId }: { filename: string; rows: () => CsvCell[][]; label?: string; testId?: string }) {
  return (
    <button type="button" className={buttonClass} onClick={() => downloadCsv(filename, rows())} data-testid={testId}>
      <Download aria-hidden className="h-4 w-4" />
      {label}
    </button>
  );
}

export function Skeleton({ className = '' }: { className?: string }) {
  return <div aria-hidden className={`animate-pulse rounded-md bg-slate-200 ${className}`} />;
}
