/**
 * Getting a pod's image onto the node per its pull policy, with bounded retries on transient
 * registry errors and the registry login in a short-lived `--authfile`, never on argv.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { err, ok, type Result, tesseraError } from '../../../common/errors.ts';
import type { LaunchRequest } from '../types.ts';
import { authFileText, pullArgs, registryOf } from './args.ts';
import type { ContainerRuntimeConfig } from './options.ts';
import type { Podman } from './podman.ts';
import { backoffMs, classifyPullError } from './pull-error.ts';

/** The pull failure every caller reports: `ImagePullFailed: <what the registry said>`. */
function pullFailed(image: string, message: string): Result<never> {
  return err(
    tesseraError('TESSERA_E_INVALID_SPEC', `ImagePullFailed: ${message}`, {
      field: 'image',
      context: { image },
    }),
  );
}

/** Makes `image` present per `req.spec.imagePullPolicy` (default IfNotPresent); events go to `req.onEvent`. */
export async function ensureImage(
  cfg: ContainerRuntimeConfig,
  podman: Podman,
  image: string,
  req: Pick<LaunchRequest, 'spec' | 'podDir' | 'onEvent' | 'signal'>,
  sleepMs: (ms: number, signal: AbortSignal) => Promise<void> = abortableSleep,
): Promise<Result<void>> {
  const policy = req.spec.imagePullPolicy ?? 'IfNotPresent';
  if (policy !== 'Always') {
    const exists = await podman(['image', 'exists', image], { timeoutMs: cfg.commandTimeoutMs });
    if (exists.exitCode === 0) return ok(undefined);
    if (policy === 'Never') {
      return pullFailed(image, `image ${image} is not present on the node and imagePullPolicy is Never`);
    }
  }
  const registry = registryOf(image);
  const insecure = cfg.insecureRegistries.includes(registry);
  const cred = req.spec.pullCredential;
  const authFile = cred === undefined ? null : join(req.podDir, `.auth-${process.pid}-${Date.now()}.json`);
  if (cred !== undefined && authFile !== null) {
    // mode applies at creation: the file is never readable by others, not even for a moment.
    writeFileSync(authFile, authFileText(cred.server, cred.username, cred.password), {
      mode: 0o600,
      flag: 'wx',
    });
  }
  try {
    req.onEvent('image-pulling', `Pulling image ${image}`);
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      const r = await podman(pullArgs(image, insecure, authFile), {
        timeoutMs: cfg.pullTimeoutMs,
        signal: req.signal,
      });
      if (r.exitCode === 0) {
        const seconds = Math.round((Date.now() - started) / 100) / 10;
        req.onEvent('image-pulled', `Pulled ${image} in ${seconds} s`, { seconds });
        return ok(undefined);
      }
      if (req.signal.aborted) return pullFailed(image, `pull of ${image} aborted: the pod was stopped`);
      const f =
        r.failure !== null && r.stderr.trim() === ''
          ? { message: r.failure, transient: r.failure.startsWith('timed out') }
          : classifyPullError(r.stderr);
      if (!f.transient || attempt >= cfg.pullRetry.retries) {
        const tries = attempt === 0 ? '' : ` (after ${attempt + 1} attempts)`;
        return pullFailed(image, `${f.message}${tries}`);
      }
      const delayMs = backoffMs(attempt + 1, cfg.pullRetry.baseBackoffMs, cfg.pullRetry.maxBackoffMs);
      req.onEvent(
        'image-pull-retry',
        `Pull of ${image} failed (${f.message}); retry ${attempt + 1} of ${cfg.pullRetry.retries} in ${delayMs / 1000} s`,
        { attempt: attempt + 1, delayMs },
      );
      await sleepMs(delayMs, req.signal);
      if (req.signal.aborted) return pullFailed(image, `pull of ${image} aborted: the pod was stopped`);
    }
  } finally {
    if (authFile !== null) rmSync(authFile, { force: true });
  }
}

async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  try {
    await sleep(ms, undefined, { signal });
  } catch {
    // Aborted: the caller checks the signal.
  }
}
