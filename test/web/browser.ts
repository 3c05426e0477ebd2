/**
 * Headless Chromium for the console's end-to-end test: Debian's chromium driven by playwright-core
 * (no browser download; this machine's network is closed). A machine without chromium skips the
 * test and says so, rather than passing without having looked at a page.
 */
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

/** Where screenshots of each page go (gitignored: test-artifacts/). */
export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/console/', import.meta.url));

/** Said when no chromium is found. */
export const CHROMIUM_MISSING =
  'console E2E skipped: chromium is missing. Install it (Debian/Ubuntu: apt-get install chromium) or point TESSERA_CHROMIUM at a Chromium binary.';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The chromium to drive: $TESSERA_CHROMIUM, else /usr/bin/chromium, else `chromium` on PATH; null when none. */
export function findChromium(): string | null {
  const env = process.env.TESSERA_CHROMIUM;
  if (env !== undefined && env !== '') return env;
  if (executable('/usr/bin/chromium')) return '/usr/bin/chromium';
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const p = join(dir, 'chromium');
    if (executable(p)) return p;
  }
  return null;
}

/** Launches headless chromium with the flags that keep it from reaching for a network it lacks. */
export function launch(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    args: [
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

/** Saves a full-page PNG of what `page` shows as ARTIFACTS/<name>.png. */
export async function snap(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
}
