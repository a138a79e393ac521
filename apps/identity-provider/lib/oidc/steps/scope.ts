import { InvalidScope } from '../errors';

/** RFC 6749 3.3: space-delimited, case-sensitive, no duplicates in the result. */
export function parseScope(value: string | undefined | null): string[] {
  if (!value) return [];
  return [...new Set(value.split(' ').filter(Boolean))];
}

export function requireSubset(requested: string[], allowed: readonly string[], message = 'The requested scope is not allowed for this client'): void {
  const extra = requested.filter((s) => !allowed.includes(s));
  if (extra.length) throw new InvalidScope(`${message}: ${extra.join(' ')}`);
}
