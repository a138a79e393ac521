'use client';

import { useEffect, useState } from 'react';
import { CalendarRange, Globe, Server, UserRound, X } from 'lucide-react';
import { buttonClass, focusRing } from './shared';

export const RANGES = ['24h', '7d', '30d', '90d'] as const;
export type Range = (typeof RANGES)[number] | 'custom';
const RANGE_LABELS: Record<Range, string> = { '24h': '24 hours', '7d': '7 days', '30d': '30 days', '90d': '90 days', custom: 'Custom' };

export interface Filters {
  range: Range;
  /** ISO 8601 (custom range only). */
  start: string | null;
  end: string | null;
  clientId: string | null;
  userId: string | null;
  /** As in the URL: `default` (the provider's default audience) or the API's identifier(s); null: every API. */
  audience: string | null;
  /** As in the URL; null: the browser's zone. */
  tz: string | null;
}

export interface ClientOption {
  id: string;
  name: string;
}

const field = `block w-full rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-base text-slate-900 shadow-sm sm:text-sm ${focusRing}`;
const labelClass = 'mb-1 flex items-center gap-1 text-xs font-medium text-slate-600';

/** ISO instant → value for <input type="datetime-local"> in the browser's zone. */
function toLocalInput(iso: string | null): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** The URL's (and the API's) value for the provider's default audience. */
export const DEFAULT_AUDIENCE_PARAM = 'default';

export function FilterBar({
  filters,
  clients,
  audiences,
  browserTz,
  zones,
  onChange,
}: {
  filters: Filters;
  clients: ClientOption[];
  /** The APIs (resource identifiers) seen in the range; null in it: the default audience. */
  audiences: (string | null)[];
  /** Null until known (the browser tells it after the first render). */
  browserTz: string | null;
  zones: string[];
  onChange: (update: Partial<Filters>) => void;
}) {
  const [customOpen, setCustomOpen] = useState(filters.range === 'custom');
  const [from, setFrom] = useState(toLocalInput(filters.start));
  const [to, setTo] = useState(toLocalInput(filters.end));
  const [user, setUser] = useState(filters.userId ?? '');
  // the URL is the source of truth: follow it (back/forward, links)
  useEffect(() => {
    setCustomOpen(filters.range === 'custom');
    setFrom(toLocalInput(filters.start));
    setTo(toLocalInput(filters.end));
  }, [filters.range, filters.start, filters.end]);
  useEffect(() => setUser(filters.userId ?? ''), [filters.userId]);

  const tz = filters.tz ?? browserTz ?? '';
  const clientOptions =
    filters.clientId && !clients.some((c) => c.id === filters.clientId) ? [...clients, { id: filters.clientId, name: filters.clientId }] : clients;
  const zoneOptions = !tz || zones.includes(tz) ? zones : [tz, ...zones];
  const audienceOptions = [
    ...new Set([
      ...audiences.filter((a): a is string => a !== null),
      ...(filters.audience && filters.audience !== DEFAULT_AUDIENCE_PARAM ? [filters.audience] : []),
    ]),
  ].sort();
  const hasFilters = filters.clientId || filters.userId || filters.audience || filters.tz;

  return (
    <div className="space-y-3 rounded-xl border border-slate-200 bg-white p-3 shadow-sm sm:p-4" data-testid="filters">
      <div className="flex flex-wrap items-center gap-2">
        <span id="range-label" className="sr-only">
          Date range
        </span>
        <div role="group" aria-labelledby="range-label" className="inline-flex flex-wrap gap-1 rounded-lg bg-slate-100 p-1">
          {[...RANGES, 'custom' as const].map((r) => {
            const active = r === 'custom' ? customOpen || filters.range === 'custom' : filters.range === r && !customOpen;
            return (
              <button
                key={r}
                type="button"
                aria-pressed={active}
                data-testid={`range-${r}`}
                onClick={() => (r === 'custom' ? setCustomOpen(true) : (setCustomOpen(false), onChange({ range: r, start: null, end: null })))}
                className={`rounded-md px-3 py-1.5 text-sm font-medium ${focusRing} ${
                  active ? 'bg-white text-brand-700 shadow-sm' : 'text-slate-600 hover:text-slate-900'
                }`}
              >
                {r === 'custom' && <CalendarRange aria-hidden className="mr-1 inline h-4 w-4 align-[-3px]" />}
                {RANGE_LABELS[r]}
              </button>
            );
          })}
        </div>
        {hasFilters && (
          <button
            type="button"
            className={`${buttonClass} ml-auto`}
            data-testid="filters-clear"
            onClick={() => onChange({ clientId: null, userId: null, audience: null, tz: null })}
          >
            <X aria-hidden className="h-4 w-4" />
            Clear filters
          </button>
        )}
      </div>

      {customOpen && (
        <form
          className="flex flex-wrap items-end gap-3"
          data-testid="custom-range"
          onSubmit={(e) => {
            e.preventDefault();
            const start = fromLocalInput(from);
            const end = fromLocalInput(to);
            if (start && end) onChange({ range: 'custom', start, end });
          }}
        >
          <div>
            <label htmlFor="range-start" className={labelClass}>
              From (your local time)
            </label>
            <input
              id="range-start"
              type="datetime-local"
              required
              value={from}
              onChange={(e) => setFrom(e.target.value)}
              className={field}
              data-testid="custom-start"
            />
          </div>
          <div>
            <label htmlFor="range-end" className={labelClass}>
              To
            </label>
            <input
              id="range-end"
              type="datetime-local"
              required
              value={to}
              onChange={(e) => setTo(e.target.value)}
              className={field}
              data-testid="custom-end"
            />
          </div>
          <button type="submit" className={buttonClass} data-testid="custom-apply">
            Apply range
          </button>
        </form>
      )}

      <div className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-4">
        <div>
          <label htmlFor="filter-client" className={labelClass}>
            Client
          </label>
          <select
            id="filter-client"
            className={field}
            data-testid="filter-client"
            value={filters.clientId ?? ''}
            onChange={(e) => onChange({ clientId: e.target.value || null })}
          >
            <option value="">All clients</option>
            {clientOptions.map((c) => (
              <option key={c.id} value={c.id}>
                {c.name === c.id ? c.id : `${c.name} (${c.id})`}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="filter-audience" className={labelClass}>
            <Server aria-hidden className="h-3.5 w-3.5" /> API (audience)
          </label>
          <select
            id="filter-audience"
            className={field}
            data-testid="filter-audience"
            value={filters.audience ?? ''}
            onChange={(e) => onChange({ audience: e.target.value || null })}
          >
            <option value="">All APIs</option>
            <option value={DEFAULT_AUDIENCE_PARAM}>default (provider)</option>
            {audienceOptions.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            onChange({ userId: user.trim() || null });
          }}
        >
          <label htmlFor="filter-user" className={labelClass}>
            <UserRound aria-hidden className="h-3.5 w-3.5" /> User ID
          </label>
          <div className="flex gap-2">
            <input
              id="filter-user"
              type="search"
              inputMode="text"
              autoComplete="off"
              spellCheck={false}
              placeholder="UUID, or pick from Most active users"
              value={user}
              onChange={(e) => setUser(e.target.value)}
              className={`${field} font-mono`}
              data-testid="filter-user"
            />
            <button type="submit" className={buttonClass} data-testid="filter-user-apply">
              Apply
            </button>
          </div>
        </form>
        <div>
          <label htmlFor="filter-tz" className={labelClass}>
            <Globe aria-hidden className="h-3.5 w-3.5" /> Time zone
          </label>
          <select
            id="filter-tz"
            className={field}
            data-testid="filter-tz"
            value={tz}
            disabled={!tz}
            onChange={(e) => onChange({ tz: e.target.value === browserTz ? null : e.target.value })}
          >
            {!tz && <option value="">Detecting…</option>}
            {zoneOptions.map((z) => (
              <option key={z} value={z}>
                {z === browserTz ? `${z} (this browser)` : z}
              </option>
            ))}
          </select>
        </div>
      </div>
    </div>
  );
}
