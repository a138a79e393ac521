'use client';

import { CircleAlert, RotateCw } from 'lucide-react';
import { buttonClass } from '@/components/admin/ui';

/** An admin page that failed to load (database unavailable...): says so, offers a retry; never the error's text. */
export default function AdminError({ reset }: { error: Error; reset: () => void }) {
  return (
    <div role="alert" className="rounded-xl border border-red-200 bg-red-50 p-5" data-testid="admin-error">
      <p className="flex items-center gap-2 font-semibold text-red-800">
        <CircleAlert aria-hidden className="h-5 w-5" />
        This page could not be loaded
      </p>
      <p className="mt-1 text-sm text-red-800">The provider or its database did not answer. Try again in a moment.</p>
      <button type="button" className={`${buttonClass} mt-3`} onClick={reset}>
        <RotateCw aria-hidden className="h-4 w-4" />
        Try again
      </button>
    </div>
  );
}
