/**
 * What one pod of the process runtime can reach of another pod and of the agent, as the user found:
 * the runner with the process runtime as the agent runs it (root, a uid per pod, a pod root outside
 * the 0700 data dir), a victim pod with a secret in its environment, its output and its working
 * dir, and an attacker pod that tries to read each and prints `READ <what>` or `DENIED <what>`.
 * Then the other two escapes: a `setsid` grandchild surviving Stop, and memory past the pod's limit.
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { logPath, readLogTail } from '../../../agent/runner/logs.ts';
import { readProcStat } from '../../../agent/runner/proc.ts';
import { createRunner, type Runner } from '../../../agent/runner/runner.ts';
import type { PodSpec, PodStatus } from '../../../agent/runner/types.ts';
import { createLogger } from '../../../common/log.ts';
import { until } from '../../helpers/wait.ts';
import { testRuntime, testUidRange } from '../runtime/helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A runner as the agent has it: its data dir 0700, a token file 0600 in it, pods as their own uids. */
function agentLikeRunner(): { runner: Runner; dataDir: string; tokenFile: string; podRoot: string } {
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-iso-'));
  chmodSync(dataDir, 0o700);
  const tokenFile = join(dataDir, 'node-credential.json');
  writeFileSync(tokenFile, '{"credential":"node-secret"}', { mode: 0o600 });
  const rt = testRuntime({ uidRange: testUidRange() });
  // As the agent's own environment would hold its join token: no pod may see it.
  const before = process.env.TESSERA_TOKEN;
  process.env.TESSERA_TOKEN = 'join-secret';
  const runner = createRunner({
    dataDir,
    runtime: rt.runtime,
    node: { gpus: [], hamiCore: false },
    onStatus: () => {},
    logPollMs: 20,
    stopPollMs: 10,
    log: createLogger({ stream: { write: () => {} } }),
  });
  if (before === undefined) delete process.env.TESSERA_TOKEN;
  else process.env.TESSERA_TOKEN = before;
  cleanups.push(async () => {
    runner.close();
    await rt.cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  });
  return { runner, dataDir, tokenFile, podRoot: rt.podRoot };
}

function pod(podId: string, script: string, extra: Partial<PodSpec> = {}): PodSpec {
  return {
    podId,
    workload: podId,
    project: 'team-a',
    epoch: 1,
    command: ['/bin/sh', '-c', script],
    env: {},
    grants: [],
    priority: 0,
    graceSeconds: 0.3,
    ...extra,
  };
}

async function running(runner: Runner, spec: PodSpec): Promise<PodStatus> {
  const r = runner.start(spec);
  if (!r.ok) throw new Error(r.error.message);
  await until(() => runner.get(spec.podId)?.state !== 'starting', `${spec.podId} launched`, 5000);
  const s = runner.get(spec.podId);
  if (s?.pid === null || s === undefined) throw new Error(`${spec.podId} did not start: ${s?.reason}`);
  return s;
}

const TRY = `
try() { if cat "$2" >/dev/null 2>&1; then echo "READ $1"; else echo "DENIED $1"; fi; }
tryls() { if ls "$2" >/dev/null 2>&1; then echo "READ $1"; else echo "DENIED $1"; fi; }
`;

describe.skipIf(process.getuid?.() !== 0)('pod isolation with the process runtime', () => {
  it("a pod reads neither another pod's environ, output or files, nor the agent's data dir, token or environment", async () => {
    const { runner, dataDir, tokenFile, podRoot } = agentLikeRunner();
    const victim = await running(
      runner,
      pod('victim', 'echo victim-output; echo s3cret > secret.txt; echo READY; exec sleep 300', {
        env: { SECRET: 'victim-secret' },
      }),
    );
    await until(() => runner.get('victim')?.state === 'ready', 'the victim ready', 5000);
    const victimDir = join(podRoot, 'victim');
    const script = `${TRY}
try own-environ /proc/self/environ
try victim-environ /proc/${victim.pid}/environ
try victim-stdout ${logPath(runner.podDir('victim'), 'stdout')}
try victim-file ${victimDir}/secret.txt
tryls victim-dir ${victimDir}
tryls pod-root ..
tryls data-dir ${dataDir}
try token-file ${tokenFile}
try agent-environ /proc/${process.pid}/environ
if env | grep -q '^TESSERA_TOKEN='; then echo "READ token-env"; else echo "DENIED token-env"; fi
echo DONE`;
    await running(runner, pod('attacker', script));
    await until(() => runner.get('attacker')?.state === 'exited', 'the attacker done', 5000);
    const out = readLogTail(runner.podDir('attacker'), 1 << 16);
    // The control: the method reads what is the pod's own.
    expect(out).toContain('READ own-environ\n');
    for (const what of [
      'victim-environ',
      'victim-stdout',
      'victim-file',
      'victim-dir',
      'pod-root',
      'data-dir',
      'token-file',
      'agent-environ',
      'token-env',
    ]) {
      expect(out).toContain(`DENIED ${what}\n`);
    }
    expect(out).not.toContain('READ victim');
    expect(out).toContain('DONE');
  });

  it("Stop kills a setsid grandchild that left the pod's session, ignoring SIGTERM", async () => {
    const { runner } = agentLikeRunner();
    // Both ignore SIGTERM, so the stop runs its grace and ends in the cgroup's SIGKILL.
    const script = `trap '' TERM; setsid sh -c "trap '' TERM; echo \\$\\$; exec sleep 300" & wait`;
    const s = await running(runner, pod('escapee', script, { graceSeconds: 0.3 }));
    await until(() => readLogTail(runner.podDir('escapee'), 100).includes('\n'), 'the grandchild pid', 5000);
    const grandchild = Number(readLogTail(runner.podDir('escapee'), 100).trim());
    await until(() => readProcStat(grandchild)?.session === grandchild, 'its own session', 5000);
    expect(readProcStat(grandchild)?.pgrp).not.toBe(s.pid);
    const t0 = performance.now();
    const stopped = await runner.stop('escapee', 'test stop');
    const ms = performance.now() - t0;
    console.log(`stop with a TERM-ignoring setsid grandchild: ${ms.toFixed(0)} ms (grace 300 ms)`);
    expect(stopped.ok ? stopped.value : null).toMatchObject({ state: 'exited', signal: 'SIGKILL' });
    expect(ms).toBeGreaterThanOrEqual(300);
    const st = readProcStat(grandchild)?.state;
    expect(st === undefined || st === 'Z').toBe(true);
    expect(runner.pidsOf('escapee')).toEqual([]);
  });

  it('a pod over its memory limit is killed by its cgroup and ends with reason OOMKilled', async () => {
    const { runner } = agentLikeRunner();
    const hog = 'const a = []; for (;;) a.push(Buffer.alloc(1 << 20, 1));';
    await running(runner, { ...pod('hog', ''), command: [process.execPath, '-e', hog], memoryMiB: 96 });
    await until(() => runner.get('hog')?.state === 'exited', 'the hog ended', 10_000);
    expect(runner.get('hog')).toMatchObject({ state: 'exited', signal: 'SIGKILL', reason: 'OOMKilled' });
  });
});
