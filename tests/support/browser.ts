import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import postgres from 'postgres';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';
import { REPO_ROOT } from './server';

export const ARTIFACTS_DIR = join(REPO_ROOT, 'test-artifacts');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Debian's chromium, headless, without anything that phones home. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get update && apt-get install -y chromium`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const path = join(ARTIFACTS_DIR, `${name}.png`);
  await page.screenshot({ path, fullPage: options.fullPage ?? true });
  return path;
}

/**
 * Runs `action` and resolves with the URL of the browser's request to `prefix` (a client redirect URI where
 * nothing listens: the navigation fails, but the request, with its query, is what we check). Waits until the
 * browser has shown its error page, so the next navigation is not interrupted by this one.
 */
export async function requestTo(page: Page, prefix: string, action: () => Promise<unknown>): Promise<URL> {
  const options = { timeout: 15_000 };
  const seen = page.waitForRequest((request: Request) => request.url().startsWith(prefix), options);
  const failed = page.waitForEvent('requestfailed', { predicate: (request) => request.url().startsWith(prefix), ...options });
  const settled = page.waitForEvent('framenavigated', {
    predicate: (frame) => frame === page.mainFrame() && frame.url().startsWith('chrome-error:'),
    ...options,
  });
  await action();
  const url = new URL((await seen).url());
  await failed;
  await settled;
  return url;
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export const PG_SERVER = process.env.E2E_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A fresh, empty database on the test Postgres server; drop() removes it (after the provider stopped). */
export async function freshDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `idp_browser_${randomBytes(6).toString('hex')}`;
  const admin = postgres(PG_SERVER, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const url = new URL(PG_SERVER);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      try {
        await admin.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await admin.end();
      }
    },
  };
}
