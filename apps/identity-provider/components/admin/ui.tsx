import Link from 'next/link';
import { ChevronRight, Inbox } from 'lucide-react';

/** Server-rendered building blocks of the admin console, in the analytics dashboard's style. */
export const focusRing = 'focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500 focus-visible:ring-offset-1';
export const buttonClass =
  `inline-flex items-center justify-center gap-1.5 rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 ` +
  `shadow-sm hover:bg-slate-50 disabled:cursor-not-allowed disabled:opacity-50 ${focusRing}`;
export const primaryClass =
  `inline-flex items-center justify-center gap-1.5 rounded-md bg-brand-600 px-3 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-brand-700 ` +
  `disabled:cursor-not-allowed disabled:opacity-50 ${focusRing}`;
export const dangerClass =
  `inline-flex items-center justify-center gap-1.5 rounded-md bg-red-700 px-3 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-red-800 ` +
  `disabled:cursor-not-allowed disabled:opacity-50 ${focusRing}`;
export const inputClass =
  'mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm text-slate-900 shadow-sm placeholder:text-slate-500 ' +
  'focus:border-brand-500 focus:outline-none focus-visible:ring-2 focus-visible:ring-brand-500';
export const labelClass = 'block text-sm font-medium text-slate-700';
export const linkClass = `font-medium text-brand-700 hover:underline ${focusRing} rounded`;
export const th = 'px-3 py-2 text-left text-xs font-semibold uppercase tracking-wide text-slate-600';
export const td = 'px-3 py-2 text-sm align-top';

export function PageHeader({
  icon,
  title,
  description,
  actions,
  crumbs,
}: {
  icon: React.ReactNode;
  title: string;
  description?: string;
  actions?: React.ReactNode;
  crumbs?: { href: string; label: string }[];
}) {
  return (
    <div className="mb-5">
      {crumbs && (
        <nav aria-label="Breadcrumb" className="mb-2 flex flex-wrap items-center gap-1 text-sm text-slate-600">
          {crumbs.map((c) => (
            <span key={c.href} className="inline-flex items-center gap-1">
              <Link href={c.href} className={linkClass}>
                {c.label}
              </Link>
              <ChevronRight aria-hidden className="h-3 w-3" />
            </span>
          ))}
        </nav>
      )}
      <div className="flex flex-wrap items-center justify-between gap-3">
        <div className="flex min-w-0 items-center gap-2">
          {icon}
          <h1 className="truncate text-2xl font-semibold tracking-tight">{title}</h1>
        </div>
        {actions}
      </div>
      {description && <p className="mt-1 max-w-3xl text-sm text-slate-600">{description}</p>}
    </div>
  );
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
    <section aria-labelledby={id} className="min-w-0 rounded-xl border border-slate-200 bg-white p-4 shadow-sm sm:p-5" data-testid={testId}>
      <div className="mb-3 flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          <h2 id={id} className="text-base font-semibold tracking-tight text-slate-900">
            {title}
          </h2>
          {description && <p className="text-xs text-slate-600">{description}</p>}
        </div>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return (
    <p className="flex items-center gap-2 rounded-md bg-slate-50 px-3 py-4 text-sm text-slate-600" data-testid="empty">
      <Inbox aria-hidden className="h-4 w-4" />
      {children}
    </p>
  );
}

/** A table that scrolls sideways on a phone instead of squeezing its columns. */
export function Table({ head, children, testId, caption }: { head: string[]; children: React.ReactNode; testId?: string; caption: string }) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full min-w-[560px]" data-testid={testId}>
        <caption className="sr-only">{caption}</caption>
        <thead className="bg-slate-50">
          <tr>
            {head.map((h) => (
              <th key={h} scope="col" className={th}>
                {h}
              </th>
            ))}
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">{children}</tbody>
      </table>
    </div>
  );
}

/** Keyset paging: a link to the next page (the cursor in the URL), and back to the first. */
export function Pager({
  next,
  base,
  params,
  testId = 'next-page',
}: {
  next: string | null;
  base: string;
  params: Record<string, string | undefined>;
  testId?: string;
}) {
  const keep = Object.entries(params).filter(([k, v]) => v && k !== 'cursor') as [string, string][];
  const href = (cursor?: string) => {
    const q = new URLSearchParams(keep);
    if (cursor) q.set('cursor', cursor);
    const s = q.toString();
    return s ? `${base}?${s}` : base;
  };
  return (
    <nav aria-label="Pages" className="mt-3 flex items-center justify-between gap-2 text-sm">
      {params.cursor ? (
        <Link href={href()} className={buttonClass}>
          First page
        </Link>
      ) : (
        <span />
      )}
      {next ? (
        <Link href={href(next)} className={buttonClass} data-testid={testId} rel="next">
          Next page
        </Link>
      ) : (
        <span className="text-slate-600">End of list</span>
      )}
    </nav>
  );
}

export function Badge({ tone = 'slate', children }: { tone?: 'slate' | 'green' | 'red' | 'amber' | 'blue'; children: React.ReactNode }) {
  const tones = {
    slate: 'bg-slate-100 text-slate-700',
    green: 'bg-green-100 text-green-800',
    red: 'bg-red-100 text-red-800',
    amber: 'bg-amber-100 text-amber-900',
    blue: 'bg-blue-100 text-blue-800',
  };
  return <span className={`inline-flex items-center rounded px-1.5 py-0.5 text-xs font-medium ${tones[tone]}`}>{children}</span>;
}

export function ErrorNote({ children }: { children: React.ReactNode }) {
  return (
    <p role="alert" className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800">
      {children}
    </p>
  );
}

export const when = (iso: string | null | undefined) => (iso ? new Date(iso).toISOString().replace('T', ' ').slice(0, 19) + ' UTC' : '—');

export function SearchForm({ action, q, label, extra }: { action: string; q?: string; label: string; extra?: React.ReactNode }) {
  return (
    <form action={action} method="get" role="search" className="mb-3 flex flex-wrap items-end gap-2">
      <div className="min-w-[220px] flex-1">
        <label htmlFor="q" className={labelClass}>
          {label}
        </label>
        <input id="q" name="q" defaultValue={q} className={inputClass} maxLength={200} />
      </div>
      {extra}
      <button type="submit" className={buttonClass}>
        Search
      </button>
    </form>
  );
}
