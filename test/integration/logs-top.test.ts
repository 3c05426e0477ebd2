/**
 * Logs, explain and top through real processes: an allocator and one sim agent on
 * loopback; a pod that prints numbered lines, read back through `GET /logs` (tail, then follow),
 * a workload too big for the node explained, and `/top` showing the pod on its GPU. The CLI
 * commands run in-process (use-cluster.ts) against the same allocator.
 */
import { connect, type Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Cluster, until } from './harness.ts';
import { useCluster } from './use-cluster.ts';

const cl = useCluster({ n1: '2xH100-80GB' });
const tessera = cl.tessera;
let c: Cluster;

beforeAll(() => {
  c = cl.cluster();
});

/** A pod printing `line N` every 100 ms, on stdout, and one `warn` line on stderr. */
const PRINTER = [
  process.execPath,
  '-e',
  'let i = 0; console.error("warn at start"); const t = () => console.log("line " + i++); t(); setInterval(t, 100);',
];

/** GET a text answer. */
async function getText(path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${c.url}/api/v1${path}`, {
    headers: { authorization: `Bearer ${c.adminToken}` },
    signal: AbortSignal.timeout(10_000),
  });
  return { status: res.status, text: await res.text() };
}

describe.sequential('logs, explain and top over real processes', () => {
  let printerId = '';

  it('GET /logs returns what the pod printed, tail and stream as asked', async () => {
    const w = await c.api.submit({
      name: 'printer',
      project: c.defaultProject,
      type: 'training',
      command: PRINTER,
      resources: { gpuDevices: 1 },
    });
    printerId = w.id;
    await c.api.waitPhase(w.id, 'Running');
    const all = await until(
      async () => {
        const r = await getText(`/workloads/${w.id}/logs`);
        return r.status === 200 && r.text.includes('line 5') ? r.text : null;
      },
      'the printer to print line 5',
      15_000,
    );
    expect(all).toMatch(/^line 0\nline 1\n/);
    expect(all).toContain('warn at start');

    const tail = await getText(`/workloads/${w.id}/logs?tail=2&stream=stdout`);
    expect(tail.status).toBe(200);
    const lines = tail.text.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => /^line \d+$/.test(l))).toBe(true);

    const missing = await c.api.request('GET', `/workloads/${w.id}/logs?pod=nope`);
    expect(missing.status).toBe(404);
  });

  it('follows new lines as the pod prints them, and ends when the pod stops', async () => {
    const res = await fetch(`${c.url}/api/v1/workloads/${printerId}/logs?follow=true&tail=1&stream=stdout`, {
      headers: { authorization: `Bearer ${c.adminToken}` },
    });
    expect(res.status).toBe(200);
    const reader = res.body?.getReader();
    if (reader === undefined) throw new Error('no body');
    const decoder = new TextDecoder();
    let text = '';
    const numbers = (): number[] => [...text.matchAll(/line (\d+)/g)].map((m) => Number(m[1]));
    while (numbers().length < 5) {
      const { done, value } = await reader.read();
      if (done) throw new Error(`the follow ended early: ${text}`);
      text += decoder.decode(value, { stream: true });
    }
    const seen = numbers();
    // Consecutive: no line lost or repeated between the tail and the follow.
    expect(seen).toEqual(seen.map((_, i) => (seen[0] ?? 0) + i));

    await c.api.expect(200, 'POST', `/workloads/${printerId}/stop`);
    const ended = (async () => {
      for (;;) {
        const { done } = await reader.read();
        if (done) return true;
      }
    })();
    await expect(Promise.race([ended, new Promise((r) => setTimeout(() => r(false), 15_000))])).resolves.toBe(
      true,
    );
    await c.api.waitPhase(printerId, 'Stopped');
  }, 30_000);

  it('/top shows the running pod on its GPU, and its workload with the GPU summed', async () => {
    await c.api.expect(200, 'POST', `/workloads/${printerId}/run`);
    const w = await c.api.waitPhase(printerId, 'Running');
    const uuid = w.pods.find((p) => p.phase === 'Running')?.gpus[0]?.uuid;
    expect(uuid).toBeTruthy();
    type Top = {
      nodes: {
        name: string;
        sampledAt: string | null;
        gpus: { uuid: string; memoryTotalMiB: number; pods: { workloadName: string }[] }[];
      }[];
      workloads: { name: string; pods: number; gpus: number; gpuMemoryUsedMiB: number }[];
    };
    const top = await until(
      async () => {
        const t = (await c.api.expect(200, 'GET', '/top')) as Top;
        return t.nodes[0]?.sampledAt !== null ? t : null;
      },
      'a GPU sample from n1',
      10_000,
    );
    const gpu = top.nodes.find((n) => n.name === 'n1')?.gpus.find((g) => g.uuid === uuid);
    expect(gpu?.pods.map((p) => p.workloadName)).toEqual(['printer']);
    expect(gpu?.memoryTotalMiB).toBeGreaterThan(0);
    expect(top.workloads).toEqual([expect.objectContaining({ name: 'printer', pods: 1, gpus: 1 })]);

    const cli = await tessera('top');
    expect(cli.stderr).toBe('');
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/NODE\s+GPU\s+MODEL\s+UTIL\s+MEMORY\s+PODS/);
    expect(cli.stdout).toMatch(/printer/);
    const json = await tessera('top', '-o', 'json');
    expect(JSON.parse(json.stdout)).toHaveProperty('workloads');
  }, 30_000);

  it('/explain names the reason a workload too big for the node is pending', async () => {
    const w = await c.api.submit({
      name: 'too-big',
      project: c.defaultProject,
      type: 'training',
      command: PRINTER,
      resources: { gpuDevices: 8 },
    });
    type Explain = { phase: string; pending: boolean; reasons: string[]; cycleAt: string | null };
    const e = await until(
      async () => {
        const r = (await c.api.expect(200, 'GET', `/workloads/${w.id}/explain`)) as Explain;
        return r.cycleAt !== null && !r.reasons[0]?.startsWith('waiting for') ? r : null;
      },
      'a cycle to explain too-big',
      10_000,
    );
    expect(e).toMatchObject({ phase: 'Pending', pending: true });
    expect(e.reasons.join(' ')).toMatch(/GPU|node/i);

    const cli = await tessera('explain', 'too-big', '-p', c.defaultProject);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/too-big \(project .*\) is Pending:\n {2}- /);
    await c.api.expect(200, 'POST', `/workloads/${w.id}/stop`);
  });

  it('tessera logs prints the tail, and list -o wide shows the node and GPU', async () => {
    const logs = await tessera(
      'logs',
      'printer',
      '-p',
      c.defaultProject,
      '--tail',
      '3',
      '--stream',
      'stdout',
    );
    expect(logs.stderr).toBe('');
    expect(logs.code).toBe(0);
    expect(logs.stdout.trimEnd().split('\n')).toHaveLength(3);

    const wide = await tessera('list', '-o', 'wide');
    expect(wide.code).toBe(0);
    expect(wide.stdout).toMatch(
      /NAME\s+PROJECT\s+TYPE\s+PHASE\s+PODS\s+RESTARTS\s+GPUS\s+NODES\s+GPU UUIDS\s+AGE/,
    );
    expect(wide.stdout).toMatch(/printer\s+\S+\s+training\s+Running\s+1\/1\s+0\s+1\s+n1\s+GPU-/);
  });

  it('a reader that does not read a fast pod holds the allocator to 8 MiB, and a fifth follow is a 429', async () => {
    // 64 KiB a millisecond, as fast as the sim node's disk and CPUs let it; the agent rotates the file.
    const flood = await c.api.submit({
      name: 'flood',
      project: c.defaultProject,
      type: 'training',
      command: [
        process.execPath,
        '-e',
        'const b = Buffer.alloc(65536, 120); setInterval(() => process.stdout.write(b), 1);',
      ],
      resources: { gpuDevices: 1 },
    });
    await c.api.waitPhase(flood.id, 'Running');
    const port = Number(new URL(c.url).port);
    const sockets: Socket[] = [];
    /** A follow whose reader takes the headers and then nothing; resolves with the status line. */
    const stalled = (): Promise<string> =>
      new Promise((resolve, reject) => {
        const s = connect(port, '127.0.0.1');
        sockets.push(s);
        let head = '';
        s.on('data', (b) => {
          if (head.includes('\r\n\r\n')) return;
          head += b.toString('latin1');
          if (head.includes('\r\n\r\n')) {
            s.pause();
            resolve(head.slice(0, head.indexOf('\r\n')));
          }
        });
        s.on('error', reject);
        s.write(
          `GET /api/v1/workloads/${flood.id}/logs?follow=true&stream=stdout HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer ${c.adminToken}\r\n\r\n`,
        );
      });
    /** A gauge of the allocator's /metrics. */
    const gauge = async (name: string): Promise<number> => {
      const text = await (await fetch(`${c.url}/metrics`)).text();
      const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
      return m === null ? Number.NaN : Number(m[1]);
    };
    try {
      expect(await stalled()).toBe('HTTP/1.1 200 OK');
      // The kernel's socket buffers fill first, then the allocator's share, up to its bound.
      await until(
        async () => ((await gauge('tessera_log_follow_peak_held_bytes')) > 4 * 1024 * 1024 ? true : null),
        'the allocator to hold 4 MiB for the stalled reader',
        30_000,
      );
      await new Promise((r) => setTimeout(r, 3000));
      expect(await gauge('tessera_log_follow_peak_held_bytes')).toBeLessThanOrEqual(8 * 1024 * 1024);
      expect(await gauge('tessera_log_follow_held_bytes')).toBeLessThanOrEqual(8 * 1024 * 1024);

      for (let i = 0; i < 3; i++) expect(await stalled()).toBe('HTTP/1.1 200 OK');
      expect(await gauge('tessera_log_follows')).toBe(4);
      const fifth = await c.api.request('GET', `/workloads/${flood.id}/logs?follow=true`);
      expect(fifth.status).toBe(429);
      expect(JSON.stringify(fifth.body)).toMatch(/TESSERA_E_TOO_MANY_STREAMS.*4 log follows open/);
    } finally {
      for (const s of sockets) s.destroy();
    }
    await until(
      async () => ((await gauge('tessera_log_follows')) === 0 ? true : null),
      'follows to close',
      10_000,
    );
    await c.api.expect(200, 'POST', `/workloads/${flood.id}/stop`);
  }, 60_000);
});
