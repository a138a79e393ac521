import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { ShieldCheck } from 'lucide-react';
import { SecuritySettings } from '@/components/account/security-settings';
import { getContainer } from '@/lib/http/next';
import { securityForPage } from '@/lib/http/security-context';
import { safeLocalPath } from '@/lib/oidc/endpoints/interaction';

export const dynamic = 'force-dynamic';
// same-origin: the page's calls carry our origin (see app/(auth)/layout.tsx); never indexed
export const metadata: Metadata = { title: 'Security · Identity provider', robots: { index: false, follow: false }, referrer: 'same-origin' };

type SearchParams = Promise<Record<string, string | string[] | undefined>>;
const first = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

/** Passkeys, authenticator app and recovery codes (README "Second factors and passkeys"). /account links here. */
export default async function SecurityPage({ searchParams }: { searchParams: SearchParams }) {
  const params = await searchParams;
  const { settings } = (await getContainer()).provider;
  const returnTo = safeLocalPath(first(params.return_to), settings.issuer);
  const state = await securityForPage();
  const self = `/account/security${returnTo ? `?return_to=${encodeURIComponent(returnTo)}` : ''}`;
  if (!state) redirect(`/interaction/start?return_to=${encodeURIComponent(self)}`);
  return (
    <div className="flex min-h-screen flex-col items-center px-4 py-10 sm:px-6">
      <main className="w-full max-w-xl">
        <div className="mb-6 flex items-center gap-2 text-slate-700">
          <ShieldCheck aria-hidden className="h-6 w-6 text-brand-600" />
          <h1 className="text-xl font-semibold tracking-tight">Sign-in security</h1>
        </div>
        <SecuritySettings state={state} returnTo={returnTo} />
        {!returnTo && (
          <p className="mt-6 text-sm">
            <a href="/account" className="text-brand-700 underline">
              Back to your account
            </a>
          </p>
        )}
      </main>
    </div>
  );
}
