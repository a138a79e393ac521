import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import postgres from 'postgres';
import ws from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../apps/identity-provider/cli/idp';
import { loadConfig } from '../apps/identity-provider/lib/env';
import { supabaseWithProviderTokens } from '../docs/examples/supabase-client';
import { ADMIN_DATABASE_URL, BrowserAgent, KEY_ENCRYPTION_SECRET, SESSION_SECRET, signIn, startStack, type Stack } from './support/oidc';

/**
 * Issue #14, the Supabase recipe with real parts: the running provider issues a user's access token for a
 * resource server marked as a Supabase project; it is verified the way Supabase's PostgREST verifies a
 * third-party token (signature with the JWKS by `kid`, `exp`, `aud` containing `authenticated`, the `role`
 * claim naming the Postgres role), and row level security in a real Postgres (a scratch database on
 * 127.0.0.1:5432) reads the claims as PostgREST sets them per request: `set local role <role>` and
 * `set local request.jwt.claims = '<claims json>'`, read back by an `auth.jwt()` written like Supabase's.
 * PostgREST itself cannot be installed here (no registry ships it), so a stand-in of a few lines does those
 * steps on HTTP, and supabase-js (the docs/examples client, `accessToken: async () => token`) talks to it.
 */
const PROJECT = 'https://abcdefghijklmnopqrst.supabase.co';
const OTHER_API = 'https://api.example/';
const RP_REDIRECT = 'http://127.0.0.1:9/cb';

const RLS_SCHEMA = `
  do $$ begin create role authenticated nologin; exception when duplicate_object then null; end $$;
  create schema auth;
  -- as in Supabase: the claims PostgREST put in request.jwt.claims for this transaction
  create function auth.jwt() returns jsonb language sql stable as $$
    select coalesce(nullif(current_setting('request.jwt.claim', true), ''), nullif(current_setting('request.jwt.claims', true), ''))::jsonb
  $$;
  grant usage on schema auth to authenticated;
  grant execute on function auth.jwt() to authenticated;
  create table public.notes (
    id bigint generated always as identity primary key,
    owner text not null default (auth.jwt() ->> 'sub'),
    body text not null
  );
  alter table public.notes enable row level security;
  create policy notes_read_own on public.notes for select to authenticated using (owner = auth.jwt() ->> 'sub');
  create policy notes_write_own on public.notes for insert to authenticated with check (owner = auth.jwt() ->> 'sub');
  grant select, insert on public.notes to authenticated;
`;

describe('Supabase third-party auth with RLS on auth.jwt()->>sub', () => {
  let stack: Stack;
  let scratch: postgres.Sql;
  let scratchName: string;
  let postgrest: Server;
  let postgrestUrl: string;
  const tokens: Record<string, string> = {};
  const users: Record<string, { email: string; password: string; id: string }> = {};

  beforeAll(async () => {
    stack = await startStack();
    const issuer = stack.provider.url;
    const config = loadConfig({
      DATABASE_URL: stack.databaseUrl,
      KEY_ENCRYPTION_SECRET,
      SESSION_SECRET,
      ISSUER_URL: issuer,
      LOG_LEVEL: 'silent',
      DATA_DIR: mkdtempSync(join(tmpdir(), 'idp-cli-')),
      DEMO_CLIENT: 'false',
    });
    const cli = async (...args: string[]) => {
      const lines: string[] = [];
      expect(await runCli(args, config, (line) => lines.push(line))).toBe(0);
      return lines;
    };
    const created = await cli('clients:create', '--name', 'Notes app', '--client-id', 'notes-app', '--redirect-uri', RP_REDIRECT, '--first-party');
    const secret = created.find((l) => l.startsWith('client_secret'))!.split(': ')[1];
    expect(
      (await cli('resources:create', '--identifier', PROJECT, '--name', 'Supabase project', '--supabase', '--allow-client', 'notes-app')).join(''),
    ).toContain('supabase(role=authenticated,aud=authenticated)');
    await cli('resources:create', '--identifier', OTHER_API, '--name', 'Other API', '--allow-client', 'notes-app');

    for (const name of ['alice', 'bob']) {
      const user = { email: `${name}@example.org`, password: `${name}-very-long-password` };
      users[name] = { ...user, id: (await stack.store.users.create(user)).id };
    }
    // a user's token through the real code flow (PKCE, consent skipped for the first-party app)
    const userToken = async (name: string, resource: string | null) => {
      const agent = new BrowserAgent(issuer);
      const verifier = randomBytes(32).toString('base64url');
      const query = new URLSearchParams({
        client_id: 'notes-app',
        redirect_uri: RP_REDIRECT,
        response_type: 'code',
        scope: 'openid',
        state: 'st',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        ...(resource ? { resource } : {}),
      });
      const back = await signIn(agent, `/oidc/authorize?${query}`, users[name]);
      const response = await fetch(`${issuer}/oidc/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`notes-app:${secret}`).toString('base64')}` },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: back.searchParams.get('code')!,
          redirect_uri: RP_REDIRECT,
          code_verifier: verifier,
        }),
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { access_token: string }).access_token;
    };
    tokens.alice = await userToken('alice', PROJECT);
    tokens.bob = await userToken('bob', PROJECT);
    tokens.otherApi = await userToken('alice', OTHER_API);
    tokens.defaultAudience = await userToken('alice', null);

    scratchName = `idp_supabase_${randomBytes(6).toString('hex')}`;
    const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${scratchName}`);
    await admin.end();
    const url = new URL(ADMIN_DATABASE_URL);
    url.pathname = `/${scratchName}`;
    scratch = postgres(url.toString(), { max: 2, onnotice: () => {} });
    await scratch.unsafe(RLS_SCHEMA);

    // the PostgREST stand-in: verify as PostgREST does, then one transaction per request with its role and claims
    const jwks = createRemoteJWKSet(new URL(`${issuer}/oidc/jwks`));
    postgrest = createServer(async (req, res) => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      try {
        const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
        if (!token || !decodeProtectedHeader(token).kid) return send(401, { code: 'PGRST301', message: 'JWT without kid' });
        let claims: Record<string, unknown>;
        try {
          ({ payload: claims } = await jwtVerify(token, jwks, { audience: 'authenticated', algorithms: ['RS256', 'ES256'] }));
        } catch (error) {
          return send(401, { code: 'PGRST301', message: String((error as Error).message) });
        }
        if (claims.role !== 'authenticated') return send(401, { code: 'PGRST301', message: 'role claim missing or not allowed' });
        const chunks: Buffer[] = [];
        for await (const chunk of req) chunks.push(chunk as Buffer);
        const path = new URL(req.url!, 'http://x').pathname;
        if (path !== '/rest/v1/notes') return send(404, { message: 'not found' });
        const rows = await scratch.begin(async (tx) => {
          // PostgREST: set local role to the role claim (checked above against the roles this stand-in serves)
          await tx.unsafe('set local role authenticated');
          await tx`select set_config('request.jwt.claims', ${JSON.stringify(claims)}, true)`;
          if (req.method === 'POST') {
            const input = JSON.parse(Buffer.concat(chunks).toString() || '{}');
            for (const row of Array.isArray(input) ? input : [input]) {
              await tx`insert into public.notes ${tx(row as Record<string, string>, ...Object.keys(row))}`;
            }
            return null;
          }
          return tx`select id::int, owner, body, current_user as as_role from public.notes order by id`;
        });
        return rows === null ? (res.writeHead(201), res.end()) : send(200, rows);
      } catch (error) {
        const code = (error as { code?: string }).code;
        return send(code === '42501' ? 403 : 500, { code, message: String((error as Error).message) });
      }
    });
    await new Promise<void>((ok) => postgrest.listen(0, '127.0.0.1', ok));
    postgrestUrl = `http://127.0.0.1:${(postgrest.address() as { port: number }).port}`;
  }, 120_000);

  afterAll(async () => {
    await new Promise((ok) => postgrest?.close(ok));
    await scratch?.end();
    if (scratchName) {
      const admin = postgres(ADMIN_DATABASE_URL, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${scratchName} with (force)`);
      await admin.end();
    }
    await stack?.stop();
  });

  const decode = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString());
  const client = (token: string) =>
    supabaseWithProviderTokens(postgrestUrl, 'sb_publishable_test', async () => token, { realtime: { transport: ws as never } });

  it('the project token carries what Supabase reads: kid, role authenticated, aud authenticated, sub', () => {
    const claims = decode(tokens.alice);
    expect(claims).toMatchObject({ role: 'authenticated', sub: users.alice.id, client_id: 'notes-app' });
    // the project, Supabase's audience, and the issuer (an OpenID token: userinfo accepts it too)
    expect(claims.aud).toEqual([PROJECT, 'authenticated', stack.provider.url]);
    expect(decodeProtectedHeader(tokens.alice)).toMatchObject({ alg: 'RS256', typ: 'at+jwt' });
  });

  it('RLS: each user reads and writes only their own rows, through supabase-js with accessToken', async () => {
    const alice = client(tokens.alice);
    const bob = client(tokens.bob);
    expect((await alice.from('notes').insert({ body: 'alice note' })).error).toBeNull();
    expect((await bob.from('notes').insert({ body: 'bob note' })).error).toBeNull();
    const aliceRows = await alice.from('notes').select('*');
    expect(aliceRows.error).toBeNull();
    expect(aliceRows.data).toEqual([expect.objectContaining({ owner: users.alice.id, body: 'alice note', as_role: 'authenticated' })]);
    const bobRows = await bob.from('notes').select('*');
    expect(bobRows.data).toEqual([expect.objectContaining({ owner: users.bob.id, body: 'bob note' })]);
    // writing a row as someone else violates the policy (42501, PostgREST's 403)
    const forged = await bob.from('notes').insert({ owner: users.alice.id, body: 'pretending' });
    expect(forged.status).toBe(403);
    const [{ count }] = await scratch`select count(*)::int as count from public.notes`;
    expect(count).toBe(2);
  });

  it('tokens for another API, or with the default audience, are refused before SQL runs', async () => {
    for (const token of [tokens.otherApi, tokens.defaultAudience]) {
      const answer = await client(token).from('notes').select('*');
      expect(answer.status).toBe(401);
      expect(decode(token).role).toBeUndefined();
    }
  });
});
