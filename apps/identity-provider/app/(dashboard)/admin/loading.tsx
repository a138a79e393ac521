/** Shown while an admin page loads its data (streamed). */
export default function AdminLoading() {
  return (
    <div role="status" aria-live="polite" className="space-y-3" data-testid="admin-loading">
      <span className="sr-only">Loading…</span>
      <div className="h-8 w-64 animate-pulse rounded bg-slate-200" />
      <div className="h-40 animate-pulse rounded-xl bg-slate-100" />
      <div className="h-40 animate-pulse rounded-xl bg-slate-100" />
    </div>
  );
}
