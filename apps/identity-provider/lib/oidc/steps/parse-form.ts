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

export function paramsFrom(search: URLSearchParams): FormParams {
  const params: FormParams = new Map();
  for (const [name, value] of search) {
    if (params.has(name)) throw new InvalidRequest(`The ${name} parameter is repeated`);
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
