import type { NextConfig } from 'next';

/**
 * Shared base for every Next.js app in the repo: security headers that suit an identity provider.
 * Apps spread this and add their own settings.
 */
export const securityHeaders = [
  // login and consent must never be framed (clickjacking)
  { key: 'X-Frame-Options', value: 'DENY' },
  // the Content-Security-Policy of pages is set per request, with a nonce (apps/identity-provider/proxy.ts)
  { key: 'X-Content-Type-Options', value: 'nosniff' },
  // authorization codes travel in URLs: never leak them through Referer
  { key: 'Referrer-Policy', value: 'no-referrer' },
  { key: 'Permissions-Policy', value: 'camera=(), microphone=(), geolocation=(), payment=()' },
  { key: 'Cross-Origin-Opener-Policy', value: 'same-origin' },
  { key: 'Strict-Transport-Security', value: 'max-age=63072000; includeSubDomains' },
];

const baseConfig: NextConfig = {
  poweredByHeader: false,
  reactStrictMode: true,
  async headers() {
    return [{ source: '/:path*', headers: securityHeaders }];
  },
};

export default baseConfig;
