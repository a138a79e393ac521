import { AlertTriangle, Clock, KeyRound, Percent, RefreshCw, ShieldX, Users, AppWindow } from 'lucide-react';
import type { TokenAnalyticsResponse } from '@/lib/analytics/types';
import { formatCount, formatDuration, formatRate } from './shared';

interface Stat {
  id: string;
  label: string;
  value: number | null;
  display: string;
  hint?: string;
  icon: React.ComponentType<{ className?: string; 'aria-hidden'?: boolean }>;
  tone: string;
}

export function statList(data: TokenAnalyticsResponse): Stat[] {
  const { stats, rates, lifetime } = data;
  return [
    {
      id: 'issued',
      label: 'Tokens issued',
      value: stats.total_issued,
      display: formatCount(stats.total_issued),
      icon: KeyRound,
      tone: 'text-brand-600 bg-brand-50',
      hint: `${formatCount(stats.issued_by_grant.authorization_code)} code · ${formatCount(stats.issued_by_grant.refresh_token)} refresh · ${formatCount(stats.issued_by_grant.client_credentials)} client credentials`,
    },
    {
      id: 'refreshed',
      label: 'Tokens refreshed',
      value: stats.total_refreshed,
      display: formatCount(stats.total_refreshed),
      icon: RefreshCw,
      tone: 'text-teal-700 bg-teal-50',
    },
    {
      id: 'failed',
      label: 'Failed attempts',
      value: stats.total_failed,
      display: formatCount(stats.total_failed),
      icon: AlertTriangle,
      tone: 'text-red-700 bg-red-50',
    },
    {
      id: 'unique-users',
      label: 'Unique users',
      value: stats.unique_users,
      display: formatCount(stats.unique_users),
      icon: Users,
      tone: 'text-purple-700 bg-purple-50',
    },
    {
      id: 'unique-clients',
      label: 'Unique clients',
      value: stats.unique_clients,
      display: formatCount(stats.unique_clients),
      icon: AppWindow,
      tone: 'text-sky-700 bg-sky-50',
    },
    {
      id: 'refresh-rate',
      label: 'Refresh token usage',
      value: rates.refresh_token_usage_rate,
      display: formatRate(rates.refresh_token_usage_rate),
      icon: Percent,
      tone: 'text-teal-700 bg-teal-50',
      hint: `refreshes per refresh token issued (${formatCount(stats.refresh_tokens_issued)})`,
    },
    {
      id: 'failure-rate',
      label: 'Failed auth rate',
      value: rates.failure_rate,
      display: formatRate(rates.failure_rate),
      icon: ShieldX,
      tone: 'text-red-700 bg-red-50',
      hint: 'failed / (issued + failed)',
    },
    {
      id: 'avg-lifetime',
      label: 'Average lifetime',
      value: lifetime.issued_avg_seconds,
      display: formatDuration(lifetime.issued_avg_seconds),
      icon: Clock,
      tone: 'text-amber-700 bg-amber-50',
      hint: lifetime.actual_avg_seconds === null ? 'as issued' : `as issued · ${formatDuration(lifetime.actual_avg_seconds)} actual`,
    },
  ];
}

export function StatCards({ data }: { data: TokenAnalyticsResponse }) {
  return (
    <dl className="grid grid-cols-2 gap-3 sm:gap-4 lg:grid-cols-4" data-testid="stat-cards">
      {statList(data).map((s) => (
        <div
          key={s.id}
          className="min-w-0 rounded-xl border border-slate-200 bg-white p-3 shadow-sm sm:p-4"
          data-testid={`stat-${s.id}`}
          data-value={s.value ?? ''}
        >
          <div className="flex items-center gap-2">
            <span className={`inline-flex h-7 w-7 shrink-0 items-center justify-center rounded-md ${s.tone}`}>
              <s.icon aria-hidden className="h-4 w-4" />
            </span>
            <dt className="truncate text-xs font-medium text-slate-600 sm:text-sm">{s.label}</dt>
          </div>
          <dd className="mt-2 text-xl font-semibold tabular-nums tracking-tight text-slate-900 sm:text-2xl" data-testid={`stat-${s.id}-value`}>
            {s.display}
          </dd>
          {s.hint && (
            <dd className="mt-0.5 truncate text-xs text-slate-500" title={s.hint}>
              {s.hint}
            </dd>
          )}
        </div>
      ))}
    </dl>
  );
}
