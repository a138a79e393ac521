import type { IncomingMessage, ServerResponse } from 'node:http';
import { LightRequest, LightResponse } from './light';

const MAX_BODY_BYTES = 64 * 1024;

export class BodyTooLarge extends Error {}

/** The fast path's request: the body read (bounded) into a buffer, headers as Node parsed them. */
export async function toLightRequest(req: IncomingMessage, origin: string): Promise<Request> {
  const method = req.method ?? 'GET';
  const body = method === 'GET' || method === 'HEAD' ? null : await readBody(req);
  const path = req.url ?? '/';
  const url = path.startsWith('/') ? origin + path : new URL(path, origin).href;
  return new LightRequest(method, url, req.headers, body) as unknown as Request;
}

/** The whole body, at most MAX_BODY_BYTES. Plain stream events: an async iterator costs more per request. */
function readBody(req: IncomingMessage): Promise<Buffer> {
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
    req.once('end', () => resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

/** Web Response -> Node response. */
export async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  if (response instanceof LightResponse) {
    const headers = response.headers.toNode();
    const body = response.rawBody;
    if (body !== null) headers['content-length'] = String(Buffer.byteLength(body));
    res.writeHead(response.status, headers);
    res.end(body ?? undefined);
    return;
  }
  const headers: Record<string, string | string[]> = {};
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
