'use client';

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { usePathname, useRouter, useSearchParams } from 'next/navigation';
import { CircleAlert, Inbox, Loader2, Pause, Play, RefreshCw } from 'lucide-react';
import type { TokenActivityItem, TokenActivityResponse, TokenAnalyticsResponse } from '@/lib/analytics/types';
import { ClientChart, FailuresChart, IssuanceChart } from './charts';
import { DEFAULT_AUDIENCE_PARAM, FilterBar, RANGES, type ClientOption, type Filters, type Range } from './filters';
import { PeakHeatmap } from './heatmap';
import { buttonClass, CsvButton, GRANTS, Panel, Skeleton, type CsvCell } from './shared';
import { StatCards, statList } from './stat-cards';
import { ActivityTable, audienceLabel, AudienceTable, TopClientsTable, TopUsersTable } from './tables';

const POLL_MS = 10_000;

function readFilters(params: URLSearchParams): Filters {
  const range = params.get('range');
  return {
    range: range === 'custom' || (RANGES as readonly string[]).includes(range ?? '') ? (range as Range) : '24h',
    start: params.get('start'),
    end: params.get('end'),
    clientId: params.get('client_id') || null,
    userId: params.get('user_id') || null,
    audience: params.get('audience') || null,
    tz: params.get('tz') || null,
  };
}

/** The query the APIs take for these filters (tz only for the dashboard API). */
function apiQuery(f: Filters, tz: string | null): URLSearchParams {
  const q = new URLSearchParams({ range: f.range });
  if (f.range === 'custom') {
    if (f.start) q.set('start', f.start);
    if (f.end) q.set('end', f.end);
  }
  if (f.clientId) q.set('client_id', f.clientId);
  if (f.userId) q.set('user_id', f.userId);
  if (f.audience) q.set('audience', f.audience);
  if (tz) q.set('tz', tz);
  return q;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const response = await fetch(url, { signal, cache: 'no-store', headers: { accept: 'application/json' } });
  if (response.ok) return (await response.json()) as T;
  let body: { error?: string; parameter?: string; message?: string; issues?: { path: string; message: string }[] } = {};
  try {
    body = await response.json();
  } catch {
    // not JSON
  }
  if (response.status === 401) throw new ApiError(401, 'Your session has ended. Sign in again to see the analytics.');
  if (response.status === 403) throw new ApiError(403, 'You need administrator access to see the analytics.');
  const issue = body.issues?.[0];
  if (body.parameter && issue) throw new ApiError(response.status, `Invalid ${body.parameter}: ${issue.message}`);
  if (body.message) throw new ApiError(response.status, body.message);
  throw new ApiError(response.status, `The analytics request failed (HTTP ${response.status}${body.error ? `, ${body.error}` : ''}).`);
}

interface ActivityState {
  entries: TokenActivityItem[];
  next: string | null;
  /** Older pages were loaded with "Load more": a refresh then adds the new events on top instead of replacing. */
  extended: boolean;
}

function mergeActivity(prev: ActivityState, fresh: TokenActivityResponse): ActivityState {
  if (!prev.extended) return { entries: fresh.entries, next: fresh.next_cursor, extended: false };
  const known = new Set(prev.entries.map((e) => e.id));
  // nothing in common: more new events than one page; start over from the fresh page
  if (fresh.entries.length && !fresh.entries.some((e) => known.has(e.id))) return { entries: fresh.entries, next: fresh.next_cursor, extended: false };
  const newer = fresh.entries.filter((e) => !known.has(e.id));
  return { ...prev, entries: [...newer, ...prev.entries] };
}

export function TokenDashboard({ clients }: { clients: ClientOption[] }) {
  const router = useRouter();
  const pathname = usePathname();
  const searchParams = useSearchParams();
  const filters = useMemo(() => readFilters(new URLSearchParams(searchParams.toString())), [searchParams]);

  // the browser's zone is only known in the browser: nothing is fetched before it is
  const [browserTz, setBrowserTz] = useState<string | null>(null);
  const [zones, setZones] = useState<string[]>([]);
  useEffect(() => {
    setBrowserTz(Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC');
    const list = typeof Intl.supportedValuesOf === 'function' ? Intl.supportedValuesOf('timeZone') : [];
    setZones(list.includes('UTC') ? list : ['UTC', ...list]);
  }, []);
  const tz = filters.tz ?? browserTz;

  const [data, setData] = useState<TokenAnalyticsResponse | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [activity, setActivity] = useState<ActivityState>({ entries: [], next: null, extended: false });
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<string | null>(null);
  const [live, setLive] = useState(true);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);

  const dashboardQuery = tz ? apiQuery(filters, tz).toString() : null;
  const activityQuery = apiQuery(filters, null).toString();
  const generation = useRef(0);

  const load = useCallback(
    async (quiet: boolean, signal?: AbortSignal) => {
      if (!dashboardQuery) return;
      const mine = quiet ? generation.current : ++generation.current;
      if (!quiet) {
        setData(null);
        setError(null);
        setMoreError(null);
        setActivity({ entries: [], next: null, extended: false });
      }
      try {
        const body = await getJson<TokenAnalyticsResponse>(`/api/analytics/tokens?${dashboardQuery}`, signal);
        if (mine !== generation.current) return;
        setData(body);
        setError(null);
        setActivity((prev) =>
          quiet ? mergeActivity(prev, body.activity) : { entries: body.activity.entries, next: body.activity.next_cursor, extended: false },
        );
        setUpdatedAt(new Date());
      } catch (e) {
        if (signal?.aborted || mine !== generation.current) return;
        // a failed background refresh keeps what is shown unless the session is gone
        if (quiet && !(e instanceof ApiError && (e.status === 401 || e.status === 403))) return;
        setError(e instanceof ApiError ? e : new ApiError(0, 'The analytics could not be loaded. Check your connection and try again.'));
      }
    },
    [dashboardQuery],
  );

  useEffect(() => {
    const controller = new AbortController();
    void load(false, controller.signal);
    return () => controller.abort();
  }, [load]);

  useEffect(() => {
    if (!live || !dashboardQuery) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') void load(true);
    }, POLL_MS);
    return () => clearInterval(timer);
  }, [live, load, dashboardQuery]);

  const loadMore = async () => {
    if (!activity.next) return;
    const mine = generation.current;
    setLoadingMore(true);
    setMoreError(null);
    try {
      const page = await getJson<TokenActivityResponse>(`/api/analytics/tokens/activity?${activityQuery}&cursor=${encodeURIComponent(activity.next)}`);
      if (mine !== generation.current) return;
      setActivity((prev) => {
        const known = new Set(prev.entries.map((e) => e.id));
        return { entries: [...prev.entries, ...page.entries.filter((e) => !known.has(e.id))], next: page.next_cursor, extended: true };
      });
    } catch (e) {
      setMoreError(e instanceof Error ? e.message : 'Loading more failed.');
    } finally {
      setLoadingMore(false);
    }
  };

  const navigate = (update: Partial<Filters>) => {
    const next = { ...filters, ...update };
    const q = new URLSearchParams();
    if (next.range !== '24h' || searchParams.has('range')) q.set('range', next.range);
    if (next.range === 'custom' && next.start && next.end) {
      q.set('start', next.start);
      q.set('end', next.end);
    }
    if (next.clientId) q.set('client_id', next.clientId);
    if (next.userId) q.set('user_id', next.userId);
    if (next.audience) q.set('audience', next.audience);
    if (next.tz) q.set('tz', next.tz);
    const query = q.toString();
    router.push(query ? `${pathname}?${query}` : pathname, { scroll: false });
  };

  const names = useMemo(() => Object.fromEntries(clients.map((c) => [c.id, c.name])), [clients]);
  const emails = useMemo(() => Object.fromEntries((data?.top_users ?? []).filter((u) => u.email).map((u) => [u.user_id, u.email!])), [data]);
  const empty = data !== null && data.stats.token_events === 0;
  const stamp = new Date().toISOString().slice(0, 10);
  const clientName = (id: string | null) => (id === null ? '' : (names[id] ?? id));
  // the APIs the filter offers: those of the last answer, kept while one is selected (its answer lists only it)
  const [seenAudiences, setSeenAudiences] = useState<(string | null)[]>([]);
  useEffect(() => {
    if (data) setSeenAudiences((prev) => [...new Set([...prev, ...data.by_audience.map((a) => a.audience)])]);
  }, [data]);

  return (
    <div className="space-y-4 sm:space-y-5">
      <FilterBar filters={filters} clients={clients} audiences={seenAudiences} browserTz={browserTz} zones={zones} onChange={navigate} />

      <div className="flex flex-wrap items-center justify-between gap-2 text-sm text-slate-600">
        <p aria-live="polite" data-testid="range-summary">
          {data
            ? `${new Date(data.range.start).toLocaleString()} – ${new Date(data.range.end).toLocaleString()} · ${data.range.tz} · by ${data.range.bucket}`
            : error
              ? ''
              : 'Loading analytics…'}
        </p>
        <div className="flex flex-wrap items-center gap-2">
          {updatedAt && <span className="text-xs text-slate-500">Updated {updatedAt.toLocaleTimeString()}</span>}
          <button type="button" className={buttonClass} aria-pressed={live} onClick={() => setLive((v) => !v)} data-testid="live-toggle">
            {live ? <Pause aria-hidden className="h-4 w-4" /> : <Play aria-hidden className="h-4 w-4" />}
            Live refresh {live ? 'on' : 'off'}
          </button>
          <button type="button" className={buttonClass} onClick={() => void load(true)} disabled={!data} data-testid="refresh">
            <RefreshCw aria-hidden className="h-4 w-4" />
            Refresh
          </button>
          {data && !empty && (
            <CsvButton filename={`token-analytics-summary-${stamp}.csv`} label="Export CSV" testId="export-summary" rows={() => summaryCsv(data)} />
          )}
        </div>
      </div>

      {error ? (
        <div role="alert" className="flex gap-2 rounded-xl border border-red-200 bg-red-50 px-4 py-3 text-sm text-red-800" data-testid="dashboard-error">
          <CircleAlert aria-hidden className="mt-0.5 h-4 w-4 shrink-0" />
          <div>
            <p className="font-medium">{error.message}</p>
            {error.status === 401 ? (
              <a
                className="mt-1 inline-block font-medium underline"
                href={`/interaction/start?return_to=${encodeURIComponent(`${pathname}?${searchParams.toString()}`)}`}
              >
                Sign in again
              </a>
            ) : (
              <button type="button" className="mt-1 font-medium underline" onClick={() => void load(false)}>
                Try again
              </button>
            )}
          </div>
        </div>
      ) : !data ? (
        <DashboardSkeleton />
      ) : empty ? (
        <div
          className="flex flex-col items-center rounded-xl border border-dashed border-slate-300 bg-white px-4 py-12 text-center"
          data-testid="dashboard-empty"
        >
          <Inbox aria-hidden className="h-8 w-8 text-slate-400" />
          <p className="mt-2 text-base font-medium text-slate-800">No token activity in this range</p>
          <p className="mt-1 text-sm text-slate-500">Try a longer range or clear the client, API and user filters.</p>
        </div>
      ) : (
        <>
          <StatCards data={data} />
          <div className="grid grid-cols-1 gap-4 xl:grid-cols-2">
            <Panel
              title="Tokens issued over time"
              description="By grant type"
              testId="panel-issuance"
              actions={
                <CsvButton
                  filename={`tokens-issued-${stamp}.csv`}
                  rows={() => [
                    ['interval_start', 'label', ...GRANTS, 'total'],
                    ...data.issuance.map((b) => [b.start, b.label, ...GRANTS.map((g) => b[g]), b.total]),
                  ]}
                />
              }
            >
              <IssuanceChart buckets={data.issuance} />
            </Panel>
            <Panel
              title="Failed attempts over time"
              description="By reason"
              testId="panel-failures"
              actions={
                <CsvButton
                  filename={`token-failures-${stamp}.csv`}
                  rows={() => [
                    ['interval_start', 'label', ...data.failures.reasons, 'total'],
                    ...data.failures.series.map((b) => [b.start, b.label, ...data.failures.reasons.map((r) => b.by_reason[r] ?? 0), b.total]),
                  ]}
                />
              }
            >
              <FailuresChart reasons={data.failures.reasons} series={data.failures.series} />
            </Panel>
            <Panel
              title="Tokens by client"
              testId="panel-clients"
              actions={
                <CsvButton
                  filename={`tokens-by-client-${stamp}.csv`}
                  rows={() => [
                    ['client_id', 'client_name', 'issued', ...GRANTS, 'refreshed', 'failed', 'events'],
                    ...data.by_client.map((c) => [c.client_id, clientName(c.client_id), c.issued, ...GRANTS.map((g) => c[g]), c.refreshed, c.failed, c.events]),
                  ]}
                />
              }
            >
              <ClientChart clients={data.by_client} names={names} />
            </Panel>
            <Panel
              title="By API"
              description="Tokens per audience (resource server)"
              testId="panel-audiences"
              actions={
                <CsvButton
                  filename={`tokens-by-api-${stamp}.csv`}
                  rows={() => [
                    ['audience', 'issued', ...GRANTS, 'refreshed', 'failed', 'events'],
                    ...data.by_audience.map((a) => [audienceLabel(a.audience), a.issued, ...GRANTS.map((g) => a[g]), a.refreshed, a.failed, a.events]),
                  ]}
                />
              }
            >
              <AudienceTable audiences={data.by_audience} onFilter={(audience) => navigate({ audience: audience ?? DEFAULT_AUDIENCE_PARAM })} />
            </Panel>
            <Panel title="Peak usage" description={`Token events by weekday and hour (${data.range.tz})`} testId="panel-heatmap">
              <PeakHeatmap grid={data.peak.weekday_hour} timeZone={data.range.tz} />
            </Panel>
            <Panel
              title="Most active clients"
              testId="panel-top-clients"
              actions={
                <CsvButton
                  filename={`most-active-clients-${stamp}.csv`}
                  rows={() => [
                    ['client_id', 'client_name', 'events', 'issued', 'refreshed', 'failed', 'unique_users'],
                    ...data.top_clients.map((c) => [c.client_id, clientName(c.client_id), c.events, c.issued, c.refreshed, c.failed, c.unique_users]),
                  ]}
                />
              }
            >
              <TopClientsTable clients={data.top_clients} names={names} onFilter={(clientId) => navigate({ clientId })} />
            </Panel>
            <Panel
              title="Most active users"
              description="Tokens issued"
              testId="panel-top-users"
              actions={
                <CsvButton
                  filename={`most-active-users-${stamp}.csv`}
                  rows={() => [['user_id', 'email', 'issued'], ...data.top_users.map((u) => [u.user_id, u.email, u.issued])]}
                />
              }
            >
              <TopUsersTable users={data.top_users} onFilter={(userId) => navigate({ userId })} />
            </Panel>
          </div>
          <Panel
            title="Recent token activity"
            description={`Newest first${live ? ' · refreshes every 10 seconds' : ''}`}
            testId="panel-activity"
            actions={
              <CsvButton
                filename={`token-activity-${stamp}.csv`}
                testId="export-activity"
                rows={() => [
                  ['time', 'action', 'failed', 'reason', 'client_id', 'user_id', 'user_email', 'grant_type', 'ip_address', 'user_agent', 'request_id'],
                  ...activity.entries.map((e): CsvCell[] => [
                    e.created_at,
                    e.action,
                    e.failed,
                    e.reason,
                    e.client_id,
                    e.user_id,
                    e.user_id ? emails[e.user_id] : null,
                    e.grant_type,
                    e.ip_address,
                    e.user_agent,
                    e.request_id,
                  ]),
                ]}
              />
            }
          >
            <ActivityTable entries={activity.entries} timeZone={data.range.tz} names={names} emails={emails} />
            <div className="mt-3 flex flex-wrap items-center gap-3">
              {activity.next && (
                <button type="button" className={buttonClass} onClick={() => void loadMore()} disabled={loadingMore} data-testid="activity-load-more">
                  {loadingMore && <Loader2 aria-hidden className="h-4 w-4 animate-spin" />}
                  Load more
                </button>
              )}
              <span className="text-xs text-slate-500" data-testid="activity-count">
                {activity.entries.length} shown{activity.next ? '' : activity.entries.length ? ' · end of the range' : ''}
              </span>
              {moreError && (
                <span role="alert" className="text-sm text-red-700">
                  {moreError}
                </span>
              )}
            </div>
          </Panel>
        </>
      )}
    </div>
  );
}

function summaryCsv(data: TokenAnalyticsResponse): CsvCell[][] {
  return [
    ['metric', 'value'],
    ['range_start', data.range.start],
    ['range_end', data.range.end],
    ['time_zone', data.range.tz],
    ['client_id', data.filters.client_id],
    ['user_id', data.filters.user_id],
    ['audience', data.filters.audience === null ? null : audienceLabel(data.filters.audience || null)],
    ...statList(data).map((s): CsvCell[] => [s.label, s.value]),
    ...GRANTS.map((g): CsvCell[] => [`Issued (${g})`, data.stats.issued_by_grant[g]]),
  ];
}

export function DashboardSkeleton() {
  return (
    <div className="space-y-4" data-testid="dashboard-loading" aria-busy="true">
      <span className="sr-only">Loading analytics…</span>
      <div className="grid grid-cols-2 gap-3 sm:gap-4 lg:grid-cols-4">
        {Array.from({ length: 8 }, (_, i) => (
          <div key={i} className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm">
            <Skeleton className="h-4 w-24" />
            <Skeleton className="mt-3 h-7 w-16" />
          </div>
        ))}
      </div>
      <div className="grid grid-cols-1 gap-4 xl:grid-cols-2">
        {Array.from({ length: 4 }, (_, i) => (
          <div key={i} className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
            <Skeleton className="h-5 w-40" />
            <Skeleton className="mt-4 h-56 w-full" />
          </div>
        ))}
      </div>
    </div>
  );
}
