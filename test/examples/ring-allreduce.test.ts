/**
 * examples/distributed/ring-allreduce.mjs as 4 local processes on 127.0.0.1: the rendezvous
 * variables alone form the ring, the sum comes out right on every rank, and a rank killed mid-run
 * breaks the ring for the others (non-zero exits, as the allocator needs to see a failure).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { until } from '../helpers/wait.ts';

const SCRIPT = fileURLToPath(new URL('../../examples/distributed/ring-allreduce.mjs', import.meta.url));

/** A port nothing listens on now: the kernel's pick for a listener closed at once. */
async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

interface Rank {
  child: ChildProcess;
  out: string;
  exit: Promise<number | null>;
}

/** Starts rank `rank` of a ring over `ports` with `args` (and `env` over the rendezvous variables). */
function startRank(
  rank: number,
  ports: readonly number[],
  args: string[] = [],
  env: Record<string, string> = {},
): Rank {
  const child = spawn(process.execPath, [SCRIPT, ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      RANK: String(rank),
      WORLD_SIZE: String(ports.length),
      TESSERA_PEERS: ports.map((p) => `127.0.0.1:${p}`).join(','),
      TESSERA_PORT_RENDEZVOUS: String(ports[rank]),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const r: Rank = { child, out: '', exit: new Promise((res) => child.once('exit', (code) => res(code))) };
  child.stdout?.on('data', (d: Buffer) => {
    r.out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    r.out += d.toString();
  });
  return r;
}

async function ring(n: number, args: string[] = []): Promise<{ ports: number[]; ranks: Rank[] }> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await freePort());
  return { ports, ranks: ports.map((_, i) => startRank(i, ports, args)) };
}

describe('ring-allreduce.mjs', () => {
  it('4 ranks form a ring from the rendezvous variables and every one prints the sum 1+2+3+4 = 10', async () => {
    const { ranks } = await ring(4);
    const codes = await Promise.all(ranks.map((r) => r.exit));
    expect(codes).toEqual([0, 0, 0, 0]);
    for (const [i, r] of ranks.entries()) expect(r.out).toContain(`rank ${i} of 4: sum 10 (expected 10)`);
  });

  it('--value X makes each rank contribute X', async () => {
    const { ranks } = await ring(4, ['--value', '2.5']);
    expect(await Promise.all(ranks.map((r) => r.exit))).toEqual([0, 0, 0, 0]);
    expect(ranks[3]?.out).toContain('sum 10 (expected 10)');
  });

  it('waits for a neighbour that starts late (connects are retried)', async () => {
    const ports = [await freePort(), await freePort()];
    const first = startRank(0, ports);
    await new Promise((r) => setTimeout(r, 700));
    const late = startRank(1, ports);
    expect(await Promise.all([first.exit, late.exit])).toEqual([0, 0]);
  });

  it('a rank killed mid-run (--hold-ms) breaks the ring: the others exit non-zero, not with a sum', async () => {
    const { ranks } = await ring(4, ['--hold-ms', '20000']);
    await until(() => ranks.every((r) => r.out.includes('ring formed')), 'the ring to form', 10_000);
    ranks[2]?.child.kill('SIGKILL');
    const codes = await Promise.all(ranks.map((r) => r.exit));
    for (const r of ranks) r.child.kill('SIGKILL');
    // Ranks 1 and 3 hear rank 2 go away at once, rank 0 as the break reaches it: all well before the hold ends.
    expect(codes).toEqual([3, 3, null, 3]);
    expect(ranks[3]?.out).toContain('rank 2 went away mid-run');
    expect(ranks[1]?.out).toContain('rank 2 went away mid-run');
  });

  it('refuses missing or inconsistent rendezvous variables with exit 2, naming the variable', async () => {
    const port = await freePort();
    const noPeers = startRank(0, [port], [], { TESSERA_PEERS: '' });
    expect(await noPeers.exit).toBe(2);
    expect(noPeers.out).toContain('TESSERA_PEERS must list WORLD_SIZE (1)');
    const badRank = startRank(0, [port], [], { RANK: '5' });
    expect(await badRank.exit).toBe(2);
    expect(badRank.out).toContain('RANK must be a whole number from 0 to 0');
    const badArg = startRank(0, [port], ['--hold', '1']);
    expect(await badArg.exit).toBe(2);
  });
});
