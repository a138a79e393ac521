'use client';

import { redirect, usePathname, useSearchParams } from 'next/navigation';

/**
 * Sends a browser without a session to the sign-in page, to come back to the page (path and query) it
 * asked for. Rendered by the admin layout, which cannot see the URL; redirect() during server rendering
 * is an HTTP redirect.
 */
export function SignInRedirect() {
  const pathname = usePathname();
  const query = useSearchParams().toString();
  const here = `${pathname}${query ? `?${query}` : ''}`;
  return redirect(`/interaction/start?return_to=${encodeURIComponent(here)}`);
}
