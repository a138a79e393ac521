import { randomBytes } from 'node:crypto';
import { unsealData } from 'iron-session';
import postgres from 'postgres';
import { openIdentityStore, type IdentityStore } from '../../packages/database-identity/src';
import { postgresTemplateClause } from '../../packages/database-identity/src/testing';
import { startProvider, type ProviderHost, type RunningProvider } from './server';

export const ADMIN_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const SESSION_SECRET = randomBytes(48).toString('hex');
export const KEY_ENCRYPTION_SECRET = randomBytes(48).toString('hex');

export interface Stack {
  provider: RunningProvider;
  /** The data layer on the same database, for seeding and for reading raw rows. */
  store: IdentityStore;
  databaseUrl: string;
  stop(): Promise<void>;
}

/** A provider on a fresh Postgres database of its own, plus a store on that database for the test. */
export async function startStack(env: Record<string, string> = {}, host: ProviderHost = 'server'): Promise<Stack> {
  const name = `idp_e2e_${randomBytes(6).toString('hex')}`;
  const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}${postgresTemplateClause()}`);
  await admin.end();
  const url = new URL(ADMIN_DATABASE_URL);
  url.pathname = `/${name}`;
  const databaseUrl = url.toString();
  const provider = await startProvider({ DATABASE_URL: databaseUrl, SESSION_SECRET, KEY_ENCRYPTION_SECRET, ...env }, host);
  const store = await openIdentityStore({ databaseUrl, keyEncryptionSecret: KEY_ENCRYPTION_SECRET, maxConnections: 2 });
  return {
    provider,
    store,
    databaseUrl,
    async stop() {
      await provider.stop();
      await store.close();
      const cleanup = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
      await cleanup.unsafe(`drop database if exists ${name} with (force)`);
      await cleanup.end();
    },
  };
}

/** A browser stand-in: a cookie jar and manual redirects, so each hop can be inspected. */
export class BrowserAgent {
  cookies = new Map<string, string>();
  constructor(readonly base: string) {}

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await fetch(new URL(url, this.base), { ...init, headers, redirect: 'manual' });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      const value = pair.slice(eq + 1);
      if (/Max-Age=0/i.test(line) || value === '') this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), value);
    }
    return response;
  }

  get(url: string) {
    return this.request(url);
  }

  postForm(url: string, form: Record<string, string>, headers: Record<string, string> = {}) {
    return this.request(url, { method: 'POST', body: new URLSearchParams(form), headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers } });
  }

  /** The CSRF token, read from the sealed session cookie (the test knows the session secret). */
  async csrf(): Promise<string> {
    const sealed = this.cookies.get('idp_session');
    if (!sealed) throw new Error('no session cookie');
    const data = await unsealData<{ csrf: string }>(decodeURIComponent(sealed), { password: SESSION_SECRET });
    return data.csrf;
  }
}

export function location(response: Response): string {
  const value = response.headers.get('location');
  if (!value) throw new Error(`expected a redirect, got ${response.status}`);
  return value;
}

/**
 * Walks an authorization request through login (and consent, when asked) with the real forms, and
 * returns the final redirect to the client.
 */
export async function signIn(
  agent: BrowserAgent,
  authorizeUrl: string,
  user: { email: string; password: string },
  options: { consent?: 'allow' | 'deny' } = {},
): Promise<URL> {
  let response = await agent.get(authorizeUrl);
  for (let hop = 0; hop < 10; hop++) {
    const next = new URL(location(response), agent.base);
    const interaction = next.searchParams.get('interaction') ?? '';
    if (next.pathname === '/login') {
      response = await agent.postForm('/interaction/login', { interaction, csrf: await agent.csrf(), email: user.email, password: user.password });
    } else if (next.pathname === '/consent') {
      response = await agent.postForm('/interaction/consent', { interaction, csrf: await agent.csrf(), decision: options.consent ?? 'allow' });
    } else if (next.origin === new URL(agent.base).origin && next.pathname.startsWith('/oidc/')) {
      response = await agent.get(next.toString());
    } else {
      return next;
    }
  }
  throw new Error('too many redirects');
}
