/**
 * Bad input at the allocator's two doors: a raw `ws` client sends what no agent should
 * (malformed, oversized, unauthenticated, impersonating, speaking for another node's pod), and the
 * API gets invalid workload specs. Each is refused with its code, and the cluster keeps working.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeFrame, encodeFrame, type Frame, makeFrame, WS_OPTIONS } from '../../common/wire.ts';
import { alive, type Cluster, type JournalLine, startCluster, testWorkload, until } from './harness.ts';

let c: Cluster;
/** The pod of a workload kept running on n1 through every test: nothing here may disturb it. */
let victim: { id: string; line: JournalLine };

beforeAll(async () => {
  c = await startCluster({ n1: '2xH100-80GB' });
  const w = await c.api.submit(testWorkload(c, 'bystander'));
  await c.api.waitPhase(w.id, 'Running');
  victim = {
    id: w.id,
    line: await until(() => c.readJournal('bystander')[0], 'the bystander pod', 10_000),
  };
}, 30_000);

afterAll(async () => {
  await c?.cleanup();
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {
    process.stderr.write(c.logs());
  });
});

/** A raw link connection: frames received, how it closed, or the HTTP status that refused it. */
interface RawLink {
  ws: WebSocket;
  frames: Frame[];
  opened: Promise<boolean>;
  closed: Promise<{ code: number; reason: string }>;
  refusedStatus: Promise<number | null>;
}

function rawLink(token: string | null): RawLink {
  const url = `${c.url.replace(/^http/, 'ws')}/api/v1/agents/connect`;
  const headers: Record<string, string> = token === null ? {} : { authorization: `Bearer ${token}` };
  // The client's own maxPayload stays at ws's default so the oversized frame leaves this side.
  const ws = new WebSocket(url, { headers, perMessageDeflate: WS_OPTIONS.perMessageDeflate });
  const frames: Frame[] = [];
  ws.on('message', (data) => {
    const d = decodeFrame(data as Buffer);
    if (d.ok) frames.push(d.value);
  });
  ws.on('error', () => {});
  const refusedStatus = new Promise<number | null>((resolve) => {
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? null);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => resolve(null));
    ws.once('close', () => resolve(null));
  });
  const opened = new Promise<boolean>((resolve) => {
    ws.once('open', () => resolve(true));
    ws.once('close', () => resolve(false));
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }));
  });
  return { ws, frames, opened, closed, refusedStatus };
}

function hello(node: string, token: string): Uint8Array {
  return encodeFrame(
    makeFrame({
      case: 'hello',
      value: {
        node,
        agentVersion: 'raw-test',
        token,
        inventory: {
          gpus: [],
          cpuMillis: 1000,
          memoryMiB: 1024,
          labels: {},
          driverVersion: '580.159.04',
          cudaVersion: null,
          network: null,
        },
        runningPods: [],
      },
    }),
  );
}

/** The cluster still runs work: a short workload completes and the bystander is untouched. */
async function clusterStillWorks(name: string): Promise<void> {
  const w = await c.api.submit(testWorkload(c, name, { run: { ms: 1500 } }));
  await c.api.waitPhase(w.id, 'Completed');
  expect((await c.api.workload(victim.id)).phase).toBe('Running');
  expect(alive(victim.line.pid)).toBe(true);
}

describe.sequential('bad input on the agent link', () => {
  it('closes a malformed frame with 4400', async () => {
    const l = rawLink(c.joinToken);
    expect(await l.opened).toBe(true);
    l.ws.send(Buffer.from([0xff, 0xff, 0xff, 0x0f, 0x01]), { binary: true });
    expect((await l.closed).code).toBe(4400);
    await clusterStillWorks('after-malformed');
  });

  it('closes a frame over 1 MiB with 1009', async () => {
    const l = rawLink(c.joinToken);
    expect(await l.opened).toBe(true);
    l.ws.send(Buffer.alloc(1024 * 1024 + 16, 1), { binary: true });
    expect((await l.closed).code).toBe(1009);
    await clusterStillWorks('after-oversized');
  });

  it('refuses the upgrade without a token or with a wrong one (HTTP 401)', async () => {
    expect(await rawLink(null).refusedStatus).toBe(401);
    expect(await rawLink('tj.0123456789abcdef.wrong').refusedStatus).toBe(401);
    // A user's API token is not a node's.
    expect(await rawLink(c.adminToken).refusedStatus).toBe(401);
    await clusterStillWorks('after-unauthenticated');
  });

  it("closes a Hello naming another node with 4403, and refuses a Status about another node's pod", async () => {
    // Join as a node of our own to get a node credential, as an agent would.
    const join = rawLink(c.joinToken);
    expect(await join.opened).toBe(true);
    join.ws.send(hello('rogue', c.joinToken));
    const welcome = await until(
      () => join.frames.find((f) => f.body.case === 'welcome'),
      'a Welcome for the rogue node',
      5000,
    );
    const credential = welcome.body.case === 'welcome' ? welcome.body.value.nodeCredential : null;
    expect(credential).toMatch(/^tn\./);
    join.ws.close(1000);
    await join.closed;
    if (credential === null) throw new Error('no node credential');

    const impostor = rawLink(credential);
    expect(await impostor.opened).toBe(true);
    impostor.ws.send(hello('n1', credential));
    expect((await impostor.closed).code).toBe(4403);

    // As itself, the rogue node reports n1's pod as exited (and, so the refusal shows as a warning
    // in the allocator's log, as running): both refused as another node's pod, the pod goes on.
    const rogue = rawLink(credential);
    expect(await rogue.opened).toBe(true);
    rogue.ws.send(hello('rogue', credential));
    await until(() => rogue.frames.some((f) => f.body.case === 'welcome'), 'Welcome as rogue', 5000);
    const report = (state: 'exited' | 'running', exitCode: number | null) => ({
      podId: victim.line.podId,
      epoch: victim.line.epoch,
      state,
      pid: null,
      exitCode,
      signal: null,
      reason: 'forged by another node',
      startedAtMs: null,
    });
    const forged = encodeFrame(
      makeFrame({
        case: 'status',
        value: {
          seq: 1,
          atMs: Date.now(),
          gpuSamples: [],
          podStates: [report('exited', 9), report('running', null)],
        },
      }),
    );
    rogue.ws.send(forged);
    // Log lines are JSON objects; their key order is the logger's business, so parse them.
    const refused = (output: string): boolean =>
      output.split('\n').some((line) => {
        if (!line.startsWith('{')) return false;
        const l = JSON.parse(line) as Record<string, unknown>;
        return l.msg === 'pod report refused' && l.podId === victim.line.podId && l.reason === 'other-node';
      });
    await until(() => refused(c.alloc?.output() ?? ''), 'the forged report refused as other-node', 5000);
    const deadline = Date.now() + 1500;
    while (Date.now() < deadline) {
      const v = await c.api.workload(victim.id);
      expect(v.phase).toBe('Running');
      expect(v.pods[0]).toMatchObject({ node: 'n1', phase: 'Running', exitCode: null });
      await new Promise((r) => setTimeout(r, 100));
    }
    rogue.ws.close(1000);
    await rogue.closed;
    await clusterStillWorks('after-impostor');
  });
});

describe.sequential('invalid workload specs via the API', () => {
  const base = () => testWorkload(c, 'valid-name');
  const cases: [string, (s: Record<string, unknown>) => unknown, string][] = [
    ['a name that is no DNS label', (s) => ({ ...s, name: 'Bad_Name' }), 'name'],
    ['an unknown type', (s) => ({ ...s, type: 'batch' }), 'type'],
    ['an empty command', (s) => ({ ...s, command: [] }), 'command'],
    ['a GPU fraction over 1', (s) => ({ ...s, resources: { gpuFraction: 1.5 } }), 'resources.gpuFraction'],
    ['an unknown field', (s) => ({ ...s, gpus: 2 }), 'gpus'],
    ['a missing project', ({ project: _p, ...s }) => s, 'project'],
  ];

  for (const [what, mutate, field] of cases) {
    it(`answers 400 naming the field for ${what}`, async () => {
      const r = await c.api.request('POST', '/workloads', mutate(base()));
      expect(r.status, JSON.stringify(r.body)).toBe(400);
      expect(r.body).toMatchObject({ error: { code: 'TESSERA_E_INVALID_SPEC', field } });
    });
  }

  it('answers 400 for a body that is not JSON, and still schedules afterwards', async () => {
    const r = await fetch(`${c.url}/api/v1/workloads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${c.adminToken}`, 'content-type': 'application/json' },
      body: '{"name": ',
    });
    expect(r.status).toBe(400);
    expect(await r.json()).toMatchObject({ error: { code: 'TESSERA_E_INVALID_SPEC' } });
    await clusterStillWorks('after-bad-specs');
  });
});
