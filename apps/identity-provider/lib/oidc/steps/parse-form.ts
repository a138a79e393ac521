import { hasControlChars } from '../../security/input';
import { InvalidRequest } from '../errors';

export type FormParams = Map<string, string>;

const MAX_BODY_BYTES = 64 * 1024;

/**
 * Reads an `application/x-www-form-urlencoded` body (RFC 6749 3.2: the token endpoint takes nothing else)
 * and rejects repeated parameters (RFC 6749 3.1: parameters must not be included more than once).
 */
export async function parseForm(request: Request): Promise<FormParams> {
  const type = request.headers.get('content-type')?.split(';')[0].trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded') {
    throw new InvalidRequest('The request body must be application/x-www-form-urlencoded');
  }
  const text = await request.text();
  if (text.length > MAX_BODY_BYTES) throw new InvalidRequest('The request body is too large');
  return paramsFrom(new URLSearchParams(text));
}

/** Longest parameter value taken (id_token_hint and refresh tokens fit with room to spare). */
const MAX_VALUE_LENGTH = 8192;

/**
 * Protocol parameters as a map: each name once, no control characters (a NUL would reach SQL as a 500),
 * values bounded. The error names the parameter, cut and made printable.
 */
export function paramsFrom(search: URLSearchParams): FormParams {
  const params: FormParams = new Map();
  for (const [name, value] of search) {
    const shown = () => JSON.stringify(name.slice(0, 40)).replace(/[^\x20-\x7e]/g, '?');
    if (hasControlChars(name) || hasControlChars(value)) throw new InvalidRequest(`The ${shown()} parameter contains control characters`);
    if (value.length > MAX_VALUE_LENGTH) throw new InvalidRequest(`The ${shown()} parameter is too long`);
    if (params.has(name)) throw new InvalidRequest(`The ${name.slice(0, 40)} parameter is repeated`);
    // RFC 6749 3.1: a parameter sent without a value is treated as omitted
    if (value !== '') params.set(name, value);
  }
  return params;
}

export function required(params: FormParams, name: string): string {
  const value = params.get(name);
  if (!value) throw new InvalidRequest(`The ${name} parameter is missing`);
  return value;
}
