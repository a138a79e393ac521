import type { IncomingHttpHeaders } from 'node:http';

/**
 * Minimal implementations of the parts of Request, Response and Headers the protocol core uses, for the
 * Node server's fast path. undici's full objects build body streams for every request and response, which
 * cost about a third of a token request's CPU here; the core still sees the Web-standard interface, and
 * Next.js route handlers keep getting the real classes.
 */
export class LightHeaders {
  // lower-cased name -> value (an array only for a name appended more than once, e.g. set-cookie); handed
  // to Node as it is when the response is written
  readonly #values: Record<string, string | string[]> = {};

  constructor(init?: Record<string, string>) {
    if (init) for (const name in init) this.#values[name.toLowerCase()] = init[name];
  }
  get(name: string): string | null {
    const value = this.#values[name.toLowerCase()];
    return value === undefined ? null : typeof value === 'string' ? value : value.join(', ');
  }
  has(name: string): boolean {
    return this.#values[name.toLowerCase()] !== undefined;
  }
  set(name: string, value: string): void {
    this.#values[name.toLowerCase()] = value;
  }
  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const current = this.#values[key];
    this.#values[key] = current === undefined ? value : typeof current === 'string' ? [current, value] : [...current, value];
  }
  delete(name: string): void {
    delete this.#values[name.toLowerCase()];
  }
  getSetCookie(): string[] {
    const value = this.#values['set-cookie'];
    return value === undefined ? [] : typeof value === 'string' ? [value] : [...value];
  }
  forEach(callback: (value: string, name: string) => void): void {
    for (const name in this.#values) {
      const value = this.#values[name];
      callback(typeof value === 'string' ? value : value.join(', '), name);
    }
  }
  /** For writing: every header, set-cookie kept as separate values; other repeated names joined. */
  toNode(): Record<string, string | string[]> {
    for (const name in this.#values) {
      const value = this.#values[name];
      if (typeof value !== 'string' && name !== 'set-cookie') this.#values[name] = value.join(', ');
    }
    return this.#values;
  }
}

export class LightResponse {
  readonly headers: LightHeaders;
  readonly status: number;
  constructor(
    readonly rawBody: string | null,
    init: { status?: number; headers?: Record<string, string> } = {},
  ) {
    this.status = init.status ?? 200;
    this.headers = new LightHeaders(init.headers);
  }
  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }
  async text(): Promise<string> {
    return this.rawBody ?? '';
  }
}

/** Node's already-parsed, lower-cased request headers behind the Headers read interface. */
class NodeRequestHeaders {
  constructor(private readonly raw: IncomingHttpHeaders) {}
  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }
  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }
  forEach(callback: (value: string, name: string) => void): void {
    for (const name in this.raw) {
      const value = this.raw[name];
      if (value !== undefined) callback(Array.isArray(value) ? value.join(', ') : value, name);
    }
  }
}

export class LightRequest {
  readonly headers: NodeRequestHeaders;
  constructor(
    readonly method: string,
    readonly url: string,
    headers: IncomingHttpHeaders,
    private readonly body: Buffer | null,
  ) {
    this.headers = new NodeRequestHeaders(headers);
  }
  async text(): Promise<string> {
    return this.body ? this.body.toString('utf8') : '';
  }
}
