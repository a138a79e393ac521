import type { Metadata, Viewport } from 'next';

export const metadata: Metadata = { robots: { index: false, follow: false }, referrer: 'same-origin' };
export const viewport: Viewport = { width: 'device-width', initialScale: 1 };

/** End-user account pages: never indexed; `same-origin` referrer so our own POSTs name their origin. */
export default function AccountLayout({ children }: { children: React.ReactNode }) {
  return <div className="min-h-screen">{children}</div>;
}
