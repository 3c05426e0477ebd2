#!/usr/bin/env node
// The `tessera` command. What ships (the npm package, the image, the units) runs the compiled
// JavaScript in dist/ (`npm run build`). A development checkout, where cli/main.ts sits beside this
// file and tsx is installed, runs the sources through tsx instead, so what runs is what was edited,
// never a stale build; TESSERA_COMPILED=1 runs its dist/ (e.g. to try the build before packing it).
import { existsSync } from 'node:fs';

const dist = new URL('../dist/cli/main.js', import.meta.url);
const sources = new URL('../cli/main.ts', import.meta.url);

/** tsx's loader API, or null where it is not installed (only a development checkout has it). */
async function tsx() {
  try {
    return await import('tsx/esm/api');
  } catch (e) {
    if (e?.code === 'ERR_MODULE_NOT_FOUND') return null;
    throw e;
  }
}

const api = process.env.TESSERA_COMPILED === '1' || !existsSync(sources) ? null : await tsx();
if (api !== null) {
  api.register();
  await import(sources.href);
} else if (existsSync(dist)) {
  await import(dist.href);
} else {
  process.stderr.write(
    `tessera: no compiled entry at ${dist.pathname}: run \`npm run build\` in ${new URL('..', import.meta.url).pathname}` +
      (existsSync(sources) ? ' (or `npm ci`, which installs tsx, to run the sources)\n' : '\n'),
  );
  process.exitCode = 1;
}
