// Small helpers shared by the target definitions.

export const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

export const form = (fields) => new URLSearchParams(fields).toString();

/** Parse a pre-flight response as JSON, failing with the status and body when it is not a 2xx JSON. */
export function json(res) {
  if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status}: ${res.text.slice(0, 500)}`);
  try {
    return JSON.parse(res.text);
  } catch {
    throw new Error(`not JSON: ${res.text.slice(0, 500)}`);
  }
}

/** Throw unless `token` is a compact JWS whose header alg is `alg`. Returns { header, payload }. */
export function expectJwt(token, alg) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3) throw new Error(`expected a JWT access_token, got ${String(token).slice(0, 80)}`);
  const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
  const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  if (header.alg !== alg) throw new Error(`expected alg ${alg}, got ${header.alg}`);
  return { header, payload };
}
