import { hasControlChars } from '../../security/input';
import { InvalidRequest, InvalidTarget } from '../errors';

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

/** RFC 8707 2: `resource` may be repeated; at most this many, each at most this long (an identifier's bound). */
export const MAX_RESOURCES = 10;
export const MAX_RESOURCE_LENGTH = 512;

/**
 * Protocol parameters as a map: each name once, no control characters (a NUL would reach SQL as a 500),
 * values bounded. The error names the parameter, cut and made printable. The one exception is `resource`
 * (RFC 8707), which may be repeated: its values are kept joined by single spaces (an absolute URI holds
 * none, so one containing whitespace is refused), read back with `resourcesOf`.
 */
export function paramsFrom(search: URLSearchParams): FormParams {
  const params: FormParams = new Map();
  let resources = 0;
  for (const [name, value] of search) {
    const shown = () => JSON.stringify(name.slice(0, 40)).replace(/[^\x20-\x7e]/g, '?');
    if (hasControlChars(name) || hasControlChars(value)) throw new InvalidRequest(`The ${shown()} parameter contains control characters`);
    if (value.length > MAX_VALUE_LENGTH) throw new InvalidRequest(`The ${shown()} parameter is too long`);
    if (name === 'resource' && value !== '') {
      if (++resources > MAX_RESOURCES) throw new InvalidTarget(`At most ${MAX_RESOURCES} resource parameters are accepted`);
      if (value.length > MAX_RESOURCE_LENGTH) throw new InvalidTarget(`A resource is at most ${MAX_RESOURCE_LENGTH} characters`);
      if (/\s/.test(value)) throw new InvalidTarget('A resource must be an absolute URI (no whitespace)');
      const previous = params.get(name);
      params.set(name, previous === undefined ? value : `${previous} ${value}`);
      continue;
    }
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

/** The `resource` values of a request (RFC 8707), in order, without repeats. */
export function resourcesOf(params: FormParams | Record<string, string | undefined>): string[] {
  const joined = params instanceof Map ? params.get('resource') : params.resource;
  return joined ? [...new Set(joined.split(' '))] : [];
}
