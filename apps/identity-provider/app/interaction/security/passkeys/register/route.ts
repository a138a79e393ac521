// Thin: the protocol core answers (the production server's fast path serves this path before Next).
export { nextProviderHandler as POST } from '@/lib/http/next';

export const dynamic = 'force-dynamic';
