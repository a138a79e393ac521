import type { IncomingMessage, ServerResponse } from 'node:http';
import { LightRequest, LightResponse } from './light';

const MAX_BODY_BYTES = 64 * 1024;

export class BodyTooLarge extends Error {}

/**
 * The fast path's request: the body read (bounded) into a buffer, headers as Node parsed them. A request
 * without a body is ready at once (no promise: every promise costs a hook call while Next.js's
 * AsyncLocalStorage is enabled in the process).
 */
export function toLightRequest(req: IncomingMessage, origin: string): Request | Promise<Request> {
  const method = req.method ?? 'GET';
  const path = req.url ?? '/';
  const url = path.startsWith('/') ? origin + path : new URL(path, origin).href;
  if (method === 'GET' || method === 'HEAD') return new LightRequest(method, url, req.headers, null) as unknown as Request;
  return readBody(req, (body) => new LightRequest(method, url, req.headers, body) as unknown as Request);
}

/** The whole body, at most MAX_BODY_BYTES. Plain stream events: an async iterator costs more per request. */
function readBody<T>(req: IncomingMessage, make: (body: Buffer) => T): Promise<T> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        req.off('data', onData);
        req.resume(); // drain the rest without keeping it
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => resolve(make(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))));
    req.once('error', reject);
  });
}

/**
 * Web Response -> Node response: synchronous for the fast path's light responses. `always` are headers every
 * answer carries (nosniff, HSTS), added to the one object handed to writeHead: a res.setHeader before it
 * would send Node down its slower merging path on every response.
 */
export function sendWebResponse(res: ServerResponse, response: Response, always?: Readonly<Record<string, string>>): void | Promise<void> {
  if (response instanceof LightResponse) {
    const headers = response.headers.toNode();
    if (always) for (const name in always) headers[name] = always[name];
    const body = response.rawBody;
    if (body !== null) headers['content-length'] = String(Buffer.byteLength(body));
    res.writeHead(response.status, headers);
    res.end(body ?? undefined);
    return;
  }
  return sendStandardResponse(res, response, always);
}

async function sendStandardResponse(res: ServerResponse, response: Response, always?: Readonly<Record<string, string>>): Promise<void> {
  const headers: Record<string, string | string[]> = { ...always };
  response.headers.forEach((value, name) => {
    if (name === 'set-cookie') return;
    headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies;
  const body = response.body ? Buffer.from(await response.arrayBuffer()) : null;
  if (body) headers['content-length'] = String(body.length);
  res.writeHead(response.status, headers);
  res.end(body);
}
