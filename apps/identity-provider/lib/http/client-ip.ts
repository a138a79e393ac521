import { isIP } from 'node:net';
import type { Config } from '../env';

/**
 * The client's IP address. The socket address unless TRUSTED_PROXY names a header set by our own proxy;
 * with X-Forwarded-For, the entry TRUSTED_PROXY_HOPS places from the right (entries further left were
 * written by the client and can be forged).
 */
export function resolveClientIp(socketAddress: string | undefined | null, headers: Pick<Headers, 'get'>, trusted: Config['trustedProxy']): string | null {
  const socket = normalize(socketAddress);
  if (trusted.header === 'none') return socket;
  const raw = headers.get(trusted.header);
  if (!raw) return socket;
  if (trusted.header === 'x-forwarded-for') {
    const hops = raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    return normalize(hops[hops.length - trusted.hops]) ?? socket;
  }
  return normalize(raw.trim()) ?? socket;
}

function normalize(address: string | undefined | null): string | null {
  if (!address) return null;
  const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return isIP(plain) ? plain : null;
}
