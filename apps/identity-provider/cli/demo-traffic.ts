import { createHash, randomBytes } from 'node:crypto';
import { DEMO_CLIENTS, DEMO_REDIRECT_URI, DEMO_TRAFFIC_USER_AGENT, DEMO_USERS, demoSecret, demoSetupToken, type DemoClient } from '../lib/demo/fixtures';

/**
 * `npm run idp -- demo:traffic`: a realistic, labelled stream of token activity through the real HTTP
 * endpoints of a running development server, so dashboards and security pages have something to show.
 * The demo clients and users are created by the server (POST /api/dev/demo-traffic, loopback only, with a
 * token derived from KEY_ENCRYPTION_SECRET); every request carries DEMO_TRAFFIC_USER_AGENT and an
 * X-Request-Id starting with `demo-traffic-`.
 */

export interface DemoTrafficOptions {
  /** Base URL of the running server. */
  url: string;
  keyEncryptionSecret: string;
  rounds: number;
  out: (line: string) => void;
}

export interface DemoTrafficSummary {
  requests: number;
  logins: number;
  tokensIssued: number;
  refreshes: number;
  /** Failures provoked on purpose, by kind. */
  failures: Record<string, number>;
}

export class DemoTrafficError extends Error {}

let requestCounter = 0;

/** A tiny browser: a cookie jar, manual redirects, the demo user agent. */
class Agent {
  private readonly cookies = new Map<string, string>();
  constructor(
    private readonly base: string,
    private readonly summary: DemoTrafficSummary,
  ) {}

  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('user-agent', DEMO_TRAFFIC_USER_AGENT);
    headers.set('x-request-id', `demo-traffic-${process.pid}-${++requestCounter}`);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    this.summary.requests++;
    let response: Response;
    try {
      response = await fetch(new URL(path, this.base), { ...init, headers, redirect: 'manual' });
    } catch (error) {
      throw new DemoTrafficError(`cannot reach ${this.base} (${(error as Error).message}): start the server first (npm start or npm run dev)`);
    }
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair.indexOf('=');
      if (/Max-Age=0/i.test(line) || eq === pair.length - 1) this.cookies.delete(pair.slice(0, eq));
      else this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    if (response.status === 429)
      throw new DemoTrafficError(`rate limited at ${path}: wait ${response.headers.get('retry-after') ?? 'a few'} seconds and run again`);
    return response;
  }

  form(path: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(path, {
      method: 'POST',
      body: new URLSearchParams(fields),
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    });
  }
}

const basic = (clientId: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

async function csrfOf(agent: Agent, path: string): Promise<string> {
  const html = await (await agent.request(path)).text();
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new DemoTrafficError(`no form on ${path.split('?')[0]}`);
  return match[1];
}

interface DemoUser {
  email: string;
  password: string;
}

export async function runDemoTraffic(options: DemoTrafficOptions): Promise<DemoTrafficSummary> {
  const { url, keyEncryptionSecret, out } = options;
  const summary: DemoTrafficSummary = { requests: 0, logins: 0, tokensIssued: 0, refreshes: 0, failures: {} };
  const failed = (kind: string) => (summary.failures[kind] = (summary.failures[kind] ?? 0) + 1);
  const secretOf = (client: DemoClient) => demoSecret(keyEncryptionSecret, `client:${client.clientId}`);
  const users: DemoUser[] = DEMO_USERS.map((u) => ({ email: u.email, password: demoSecret(keyEncryptionSecret, `user:${u.email}`) }));

  const setupAgent = new Agent(url, summary);
  const setup = await setupAgent.request('/api/dev/demo-traffic', {
    method: 'POST',
    headers: { authorization: `Bearer ${demoSetupToken(keyEncryptionSecret)}` },
  });
  if (setup.status === 404) {
    throw new DemoTrafficError(
      `${url} refused the demo setup: is it a development server (not NODE_ENV=production) on this machine, started with the same KEY_ENCRYPTION_SECRET / DATA_DIR?`,
    );
  }
  if (!setup.ok) throw new DemoTrafficError(`demo setup failed with HTTP ${setup.status}`);
  const { created } = (await setup.json()) as { created: string[] };
  out(created.length ? `created demo fixtures: ${created.join(', ')}` : 'demo clients and users exist');

  /** Walks /oidc/authorize through login (and consent) like a browser; returns the code. */
  const authorize = async (agent: Agent, client: DemoClient, user: DemoUser, challenge: string, wrongPasswordFirst = false): Promise<string> => {
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: client.clientId,
      redirect_uri: DEMO_REDIRECT_URI,
      scope: 'openid profile email offline_access',
      state: randomBytes(8).toString('hex'),
      nonce: randomBytes(8).toString('hex'),
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    let response = await agent.request(`/oidc/authorize?${query}`);
    let triedWrong = !wrongPasswordFirst;
    for (let hop = 0; hop < 12; hop++) {
      const location = response.headers.get('location');
      if (!location) throw new DemoTrafficError(`authorize flow stopped with HTTP ${response.status}`);
      const next = new URL(location, url);
      if (`${next.origin}${next.pathname}` === DEMO_REDIRECT_URI) {
        const code = next.searchParams.get('code');
        if (!code) throw new DemoTrafficError(`authorization failed: ${next.searchParams.get('error')}`);
        return code;
      }
      const interaction = next.searchParams.get('interaction') ?? '';
      if (next.pathname === '/login') {
        const csrf = await csrfOf(agent, `${next.pathname}${next.search}`);
        const password = triedWrong ? user.password : `${user.password}-wrong`;
        if (!triedWrong) failed('wrong password');
        else summary.logins++;
        triedWrong = true;
        response = await agent.form('/interaction/login', { interaction, csrf, email: user.email, password });
      } else if (next.pathname === '/consent') {
        response = await agent.form('/interaction/consent', { interaction, csrf: await csrfOf(agent, `${next.pathname}${next.search}`), decision: 'allow' });
      } else {
        response = await agent.request(`${next.pathname}${next.search}`);
      }
    }
    throw new DemoTrafficError('too many redirects in the authorize flow');
  };

  const token = async (agent: Agent, client: DemoClient, fields: Record<string, string>) => {
    const headers: Record<string, string> = client.confidential ? { authorization: basic(client.clientId, secretOf(client)) } : {};
    const body = client.confidential ? fields : { ...fields, client_id: client.clientId };
    const response = await agent.form('/oidc/token', body, headers);
    const json = (await response.json()) as { access_token?: string; refresh_token?: string; error?: string };
    if (response.ok) summary.tokensIssued++;
    return { status: response.status, ...json };
  };

  const expectError = (result: { status: number; error?: string }, kind: string) => {
    if (result.status !== 400 && result.status !== 401) throw new DemoTrafficError(`expected ${kind} to be refused, got HTTP ${result.status}`);
    failed(kind);
  };

  for (let round = 0; round < options.rounds; round++) {
    for (const [index, user] of users.entries()) {
      const agent = new Agent(url, summary);
      // the web app: consent on the first visit, code + PKCE with client authentication, userinfo, refreshes
      const web = DEMO_CLIENTS.web;
      const p1 = pkce();
      const code = await authorize(agent, web, user, p1.challenge, index === round % users.length);
      const issued = await token(agent, web, { grant_type: 'authorization_code', code, redirect_uri: DEMO_REDIRECT_URI, code_verifier: p1.verifier });
      if (!issued.access_token || !issued.refresh_token) throw new DemoTrafficError(`code exchange failed: ${issued.error}`);
      await agent.request('/oidc/userinfo', { headers: { authorization: `Bearer ${issued.access_token}` } });
      const firstRefresh = issued.refresh_token;
      let refresh = firstRefresh;
      for (let i = 0; i < 2; i++) {
        const rotated = await token(agent, web, { grant_type: 'refresh_token', refresh_token: refresh });
        if (!rotated.refresh_token) throw new DemoTrafficError(`refresh failed: ${rotated.error}`);
        refresh = rotated.refresh_token;
        summary.refreshes++;
      }
      await agent.form('/oidc/introspect', { token: issued.access_token }, { authorization: basic(web.clientId, secretOf(web)) });

      // the mobile app (public, first-party): already signed in, straight to a code
      const mobile = DEMO_CLIENTS.mobile;
      const p2 = pkce();
      const mobileCode = await authorize(agent, mobile, user, p2.challenge);
      const mobileTokens = await token(agent, mobile, {
        grant_type: 'authorization_code',
        code: mobileCode,
        redirect_uri: DEMO_REDIRECT_URI,
        code_verifier: p2.verifier,
      });
      if (mobileTokens.refresh_token) {
        await token(agent, mobile, { grant_type: 'refresh_token', refresh_token: mobileTokens.refresh_token });
        summary.refreshes++;
      }

      // one user per round shows the attacks the provider detects
      if (index === round % users.length) {
        // a code replayed: refused, and the grant it started is revoked
        expectError(
          await token(agent, mobile, { grant_type: 'authorization_code', code: mobileCode, redirect_uri: DEMO_REDIRECT_URI, code_verifier: p2.verifier }),
          'code replay',
        );
        // a rotated refresh token presented again: refused, and its whole family revoked
        expectError(await token(agent, web, { grant_type: 'refresh_token', refresh_token: firstRefresh }), 'refresh token reuse');
        // a wrong PKCE verifier
        const p3 = pkce();
        const stolen = await authorize(agent, mobile, user, p3.challenge);
        expectError(
          await token(agent, mobile, { grant_type: 'authorization_code', code: stolen, redirect_uri: DEMO_REDIRECT_URI, code_verifier: pkce().verifier }),
          'PKCE mismatch',
        );
      } else {
        // the user signs out of the app: its refresh token is revoked
        await agent.form('/oidc/revoke', { token: refresh, token_type_hint: 'refresh_token' }, { authorization: basic(web.clientId, secretOf(web)) });
      }
    }

    // a machine client: client credentials, and once a wrong secret
    const worker = DEMO_CLIENTS.worker;
    const machine = new Agent(url, summary);
    for (let i = 0; i < 3; i++) {
      const result = await token(machine, worker, { grant_type: 'client_credentials', scope: 'billing.read' });
      if (!result.access_token) throw new DemoTrafficError(`client_credentials failed: ${result.error}`);
    }
    const wrong = await machine.form('/oidc/token', { grant_type: 'client_credentials' }, { authorization: basic(worker.clientId, 'not-the-secret') });
    expectError({ status: wrong.status }, 'bad client secret');
    // an access token that is not one
    await machine.request('/oidc/userinfo', { headers: { authorization: 'Bearer demo-traffic-not-a-token' } });
    failed('invalid access token');
    out(`round ${round + 1}/${options.rounds}: ${summary.requests} requests so far`);
  }
  out(
    `done: ${summary.requests} requests, ${summary.logins} sign-ins, ${summary.tokensIssued} token responses, ${summary.refreshes} refreshes; ` +
      `failures: ${Object.entries(summary.failures)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
  );
  out('Every request says "idp-demo-traffic" in its user agent; see /analytics/tokens and the audit trail.');
  return summary;
}
