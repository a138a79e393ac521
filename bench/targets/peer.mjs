// The peer: panva's oidc-provider (bench/peer/oidc-provider-server.mjs), one process per group, pinned.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PEER_CLIENT, PEER_RS256_RESOURCE } from '../peer/constants.mjs';
import { freePort, spawnPinned, waitForHttp } from '../lib/proc.mjs';
import { basic, expectJwt, form, json } from './checks.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const SERVER = join(here, '..', 'peer', 'oidc-provider-server.mjs');

function startPeer(format) {
  return async ({ cpu, root }) => {
    const port = await freePort();
    const proc = spawnPinned({
      name: `oidc-provider (${format})`,
      cpu,
      command: process.execPath,
      args: [SERVER, `--port=${port}`, `--format=${format}`],
      cwd: root,
      env: { ...process.env, NODE_ENV: 'production' },
      readyLine: (line) => {
        const msg = JSON.parse(line);
        return msg.ready ? msg : null;
      },
    });
    const info = await proc.ready;
    await waitForHttp(`${info.issuer}/.well-known/openid-configuration`, { proc });
    return { baseUrl: info.issuer, proc, stop: () => proc.stop(), fixtures: { userinfoToken: info.userinfoToken } };
  };
}

const clientCredentials = (format) => ({
  id: 'client_credentials',
  variant: format,
  label: `client_credentials (${format === 'jwt' ? 'ES256 JWT' : 'opaque'})`,
  build: () => ({
    load: {
      method: 'POST',
      path: '/token',
      headers: { authorization: basic(PEER_CLIENT.id, PEER_CLIENT.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ grant_type: 'client_credentials', scope: 'api' }),
    },
    check: (res) => {
      const body = json(res);
      if (format === 'jwt') expectJwt(body.access_token, 'ES256');
      else if (!body.access_token || body.access_token.split('.').length === 3) throw new Error(`expected an opaque access_token, got ${res.text}`);
    },
  }),
});

/** Groups: one peer process each; scenarios in a group run one after the other against it. */
export const peerGroups = [
  {
    id: 'peer-jwt',
    server: 'peer',
    start: startPeer('jwt'),
    scenarios: [
      clientCredentials('jwt'),
      {
        id: 'client_credentials',
        variant: 'rs256-resource',
        label: 'client_credentials (RS256 JWT, resource=)',
        build: () => ({
          load: {
            method: 'POST',
            path: '/token',
            headers: { authorization: basic(PEER_CLIENT.id, PEER_CLIENT.secret), 'content-type': 'application/x-www-form-urlencoded' },
            body: form({ grant_type: 'client_credentials', scope: 'api', resource: PEER_RS256_RESOURCE }),
          },
          check: (res) => {
            const { payload } = expectJwt(json(res).access_token, 'RS256');
            if (payload.aud !== PEER_RS256_RESOURCE) throw new Error(`expected aud ${PEER_RS256_RESOURCE}, got ${JSON.stringify(payload.aud)}`);
          },
        }),
      },
      {
        id: 'userinfo',
        variant: 'opaque-at',
        label: 'userinfo (GET /me, opaque AT, in-memory)',
        build: (srv) => ({
          load: { method: 'GET', path: '/me', headers: { authorization: `Bearer ${srv.fixtures.userinfoToken}` } },
          check: (res) => {
            if (json(res).sub !== 'bench-user') throw new Error(`unexpected userinfo ${res.text}`);
          },
        }),
      },
      {
        id: 'jwks',
        variant: '',
        label: 'JWKS (GET /jwks)',
        build: () => ({
          load: { method: 'GET', path: '/jwks' },
          check: (res) => {
            if (!json(res).keys?.length) throw new Error(`unexpected JWKS ${res.text}`);
          },
        }),
      },
    ],
  },
  {
    id: 'peer-opaque',
    server: 'peer',
    start: startPeer('opaque'),
    scenarios: [clientCredentials('opaque')],
  },
];
