import type { Metadata, Viewport } from 'next';
import { ShieldCheck } from 'lucide-react';

/**
 * Sign-in pages are never indexed. `same-origin` referrer policy for these documents: under the site-wide
 * `Referrer-Policy: no-referrer` browsers send `Origin: null` with form POSTs (Fetch, "serializing a request
 * origin"), which the interaction endpoints reject as cross-site. `same-origin` still sends no Referer to any
 * other site (the redirect back to the client included), but lets the browser name our origin on our forms.
 */
export const metadata: Metadata = { robots: { index: false, follow: false }, referrer: 'same-origin' };
export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

/**
 * The card every end-user page (login, consent, password change, logout) sits in: centred, one column,
 * full width on a phone. Pages bring their own heading; the main landmark is here.
 */
export default function AuthLayout({ children }: { children: React.ReactNode }) {
  return (
    <div className="flex min-h-screen flex-col items-center justify-center px-4 py-10 sm:px-6">
      <div className="w-full max-w-md">
        <div className="mb-6 flex items-center justify-center gap-2 text-slate-700">
          <ShieldCheck aria-hidden className="h-6 w-6 text-brand-600" />
          <span className="text-sm font-semibold tracking-tight">Identity provider</span>
        </div>
        <main className="rounded-xl border border-slate-200 bg-white px-5 py-6 shadow-sm sm:px-8 sm:py-8">{children}</main>
        <p className="mt-6 text-center text-xs text-slate-500">Only enter your password on this site. Applications never see it.</p>
      </div>
    </div>
  );
}
