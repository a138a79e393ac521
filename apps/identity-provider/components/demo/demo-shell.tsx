import Link from 'next/link';
import { AppWindow } from 'lucide-react';

/** Frame for the demo relying party's pages (server component: no client code needed here). */
export function DemoShell({ children }: { children: React.ReactNode }) {
  return (
    <main className="mx-auto max-w-5xl px-4 py-8 sm:px-6 sm:py-12">
      <header className="mb-6">
        <Link href="/demo" className="inline-flex items-center gap-2 rounded focus-visible:outline-none focus-visible:ring-2 focus-visible:ring-brand-500">
          <AppWindow aria-hidden className="h-6 w-6 text-brand-600" />
          <span className="text-2xl font-semibold tracking-tight">Demo relying party</span>
        </Link>
        <p className="mt-1 text-sm text-slate-600">
          A public client (<code className="font-mono">demo-spa</code>) using this provider with authorization code + PKCE, the way a single-page application
          would.
        </p>
      </header>
      {children}
    </main>
  );
}
