/**
 * Which redirect URIs a client may register (OAuth 2.1 section 2.3.1, RFC 8252, RFC 9700 4.1): absolute,
 * without fragment or credentials; https, or http on a loopback host (any host outside production, for
 * local development), or a private-use scheme in reverse-domain form for native apps (`com.example.app:/cb`).
 * Script-capable and local schemes never. One check for every place that registers a client.
 */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'vbscript:', 'blob:', 'about:', 'filesystem:']);
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Why `uri` cannot be registered, or null when it can. */
export function redirectUriProblem(uri: string, options: { production: boolean }): string | null {
  if (uri.length > 2000) return `${uri.slice(0, 60)}...: longer than 2000 characters`;
  // eslint-disable-next-line no-control-regex -- control characters are what this looks for
  if (/[\u0000-\u0020\u007f]/.test(uri)) return `${JSON.stringify(uri)}: contains whitespace or control characters`;
  if (!URL.canParse(uri)) return `${uri}: not an absolute URI`;
  const url = new URL(uri);
  if (uri.includes('#')) return `${uri}: must not contain a fragment`;
  if (url.username || url.password) return `${uri}: must not contain credentials`;
  if (FORBIDDEN_SCHEMES.has(url.protocol)) return `${uri}: the ${url.protocol} scheme is never a redirect target`;
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:') {
    if (LOOPBACK_HOSTS.has(url.hostname) || !options.production) return null;
    return `${uri}: http is allowed only for loopback hosts (127.0.0.1, [::1], localhost); use https`;
  }
  // private-use scheme (RFC 8252 7.1): reverse domain name, so it cannot collide with another app's
  if (!/^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+:$/.test(url.protocol))
    return `${uri}: a native app's scheme must be a reverse domain name, e.g. com.example.app:/callback`;
  return null;
}
