#!/usr/bin/env node
/**
 * A ring all-reduce of one number over TCP, using only the rendezvous variables Tessera gives each
 * pod of a distributed workload: RANK, WORLD_SIZE, TESSERA_PEERS (every pod's address:port, in rank
 * order) and TESSERA_PORT_RENDEZVOUS (or PORT), the port this pod listens on. No dependencies, so it
 * runs as-is on a node's process runtime or in any image with Node.
 *
 *   node ring-allreduce.mjs [--value X] [--hold-ms N] [--connect-timeout-ms N] [--timeout-ms N]
 *
 * Each rank contributes rank+1 (or X with --value), so the sum is known in advance: it prints the
 * sum and exits 0 when it is the expected one, 1 when it is not, 2 on bad input and 3 when the ring
 * broke (a neighbour went away, or the run took longer than --timeout-ms). --hold-ms keeps every
 * rank mid-run (ring formed, nothing sent yet) for N ms, so a test can kill a pod there.
 *
 * The ring: rank r listens on its own port and connects to rank r+1 (retrying until that one
 * listens); rank 0 sends its value, each rank adds its own and passes the partial sum on, and rank
 * 0, receiving the total, sends it round once more so every rank prints it.
 */
import net from 'node:net';

/** Exit codes, as the header says. */
const EXIT = { ok: 0, wrongSum: 1, usage: 2, broken: 3 };

/** Options and their defaults. */
const DEFAULTS = { value: null, holdMs: 0, connectTimeoutMs: 30_000, timeoutMs: 120_000 };

const log = (msg) => process.stdout.write(`ring-allreduce: ${msg}\n`);
const die = (code, msg) => {
  process.stderr.write(`ring-allreduce: ${msg}\n`);
  process.exit(code);
};

/** `--name value` flags into the options; anything else is a usage error. */
function parseArgs(argv) {
  const names = {
    '--value': 'value',
    '--hold-ms': 'holdMs',
    '--connect-timeout-ms': 'connectTimeoutMs',
    '--timeout-ms': 'timeoutMs',
  };
  const opts = { ...DEFAULTS };
  for (let i = 0; i < argv.length; i += 2) {
    const key = names[argv[i]];
    const n = Number(argv[i + 1]);
    if (key === undefined)
      die(EXIT.usage, `unknown argument ${argv[i]} (accepted: ${Object.keys(names).join(', ')})`);
    if (argv[i + 1] === undefined || !Number.isFinite(n) || (key !== 'value' && n < 0))
      die(EXIT.usage, `${argv[i]} needs a number${key === 'value' ? '' : ' >= 0'}, got ${argv[i + 1]}`);
    opts[key] = n;
  }
  return opts;
}

/** `host:port` or `[v6]:port` into its parts. */
function parseEndpoint(text, what) {
  const at = text.lastIndexOf(':');
  const host = text.slice(0, at).replace(/^\[(.*)\]$/, '$1');
  const port = Number(text.slice(at + 1));
  if (at <= 0 || host === '' || !Number.isInteger(port) || port < 1 || port > 65_535)
    die(EXIT.usage, `${what} ${JSON.stringify(text)} is not ADDRESS:PORT`);
  return { host, port };
}

/** The rendezvous variables, checked. */
function readEnv(env) {
  const rank = Number(env.RANK);
  const world = Number(env.WORLD_SIZE);
  if (!Number.isInteger(world) || world < 1)
    die(EXIT.usage, `WORLD_SIZE must be a whole number >= 1, got ${env.WORLD_SIZE}`);
  if (!Number.isInteger(rank) || rank < 0 || rank >= world)
    die(EXIT.usage, `RANK must be a whole number from 0 to ${world - 1}, got ${env.RANK}`);
  const peers = (env.TESSERA_PEERS ?? '').split(',').filter((p) => p !== '');
  if (peers.length !== world)
    die(
      EXIT.usage,
      `TESSERA_PEERS must list WORLD_SIZE (${world}) address:port entries, got ${peers.length}`,
    );
  const portText = env.TESSERA_PORT_RENDEZVOUS ?? env.PORT;
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65_535)
    die(EXIT.usage, `TESSERA_PORT_RENDEZVOUS (or PORT) must be a port number, got ${portText}`);
  return { rank, world, port, peers: peers.map((p, i) => parseEndpoint(p, `TESSERA_PEERS entry ${i}`)) };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Newline-delimited JSON messages from `socket`, one callback per message. */
function onMessages(socket, handle) {
  let buf = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk) => {
    buf += chunk;
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        handle(JSON.parse(line));
      } catch {
        socket.destroy();
      }
    }
  });
}

const send = (socket, msg) => socket.write(`${JSON.stringify(msg)}\n`);
/** Ends `socket` once what was sent is flushed: process.exit would drop it otherwise. */
const flushEnd = (socket) => new Promise((r) => socket.end(r));

/** Listens on `port`, retrying while the port is still held (a previous attempt's process exiting). */
async function listen(port, deadline, onSocket) {
  for (;;) {
    const server = net.createServer(onSocket);
    const error = await new Promise((resolve) => {
      server.once('error', resolve);
      server.listen(port, () => resolve(null));
    });
    if (error === null) return server;
    if (error.code !== 'EADDRINUSE' || Date.now() > deadline)
      die(EXIT.broken, `cannot listen on port ${port}: ${error.message}`);
    await sleep(200);
  }
}

/** Connects to `peer`, retrying until it listens or `deadline` passes. */
async function connect(peer, deadline) {
  for (;;) {
    const socket = net.connect(peer.port, peer.host);
    const error = await new Promise((resolve) => {
      socket.once('connect', () => resolve(null));
      socket.once('error', resolve);
    });
    if (error === null) return socket;
    socket.destroy();
    if (Date.now() > deadline)
      die(EXIT.broken, `rank's neighbour ${peer.host}:${peer.port} did not listen in time: ${error.message}`);
    await sleep(200);
  }
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const { rank, world, port, peers } = readEnv(process.env);
  const value = opts.value ?? rank + 1;
  const expected = opts.value === null ? (world * (world + 1)) / 2 : opts.value * world;
  const done = (total) => {
    log(`rank ${rank} of ${world}: sum ${total} (expected ${expected})`);
    process.exit(total === expected ? EXIT.ok : EXIT.wrongSum);
  };
  setTimeout(
    () => die(EXIT.broken, `rank ${rank}: no sum after ${opts.timeoutMs} ms`),
    opts.timeoutMs,
  ).unref();
  if (world === 1) {
    await sleep(opts.holdMs);
    return done(value);
  }
  const prev = (rank - 1 + world) % world;
  const deadline = Date.now() + opts.connectTimeoutMs;
  let next = null;
  let partial = null; // rank 0: the total once it came round; others: the partial sum from prev
  let sent = false; // whether this rank has passed its partial sum on
  const fromPrev = [];
  let wake = () => {};
  // Only the previous rank's connection counts: a hello from anyone else (a port reused by another
  // process, a stale attempt) is closed.
  await listen(port, deadline, (socket) => {
    let accepted = false;
    onMessages(socket, (msg) => {
      if (!accepted) {
        accepted = msg.kind === 'hello' && msg.rank === prev && msg.world === world;
        if (!accepted) socket.destroy();
        return;
      }
      fromPrev.push(msg);
      wake();
    });
    socket.on('close', () => {
      if (!accepted) return;
      // Before this rank sent anything, nothing of the previous rank can be waiting in the queue.
      if (!sent) die(EXIT.broken, `rank ${rank}: rank ${prev} went away mid-run`);
      fromPrev.push({ kind: 'closed' });
      wake();
    });
    socket.on('error', () => {});
  });
  next = await connect(peers[(rank + 1) % world], deadline);
  next.on('error', () => {});
  // The next rank leaves only after this one's partial sum reached it; earlier, the ring is broken.
  next.on('close', () => {
    if (!sent) die(EXIT.broken, `rank ${rank}: rank ${(rank + 1) % world} went away mid-run`);
  });
  send(next, { kind: 'hello', rank, world });
  log(
    `rank ${rank} of ${world}: ring formed (listening on ${port}, next ${peers[(rank + 1) % world].host}:${peers[(rank + 1) % world].port})`,
  );
  const receive = async () => {
    while (fromPrev.length === 0) await new Promise((r) => (wake = r));
    const msg = fromPrev.shift();
    if (msg.kind === 'closed') die(EXIT.broken, `rank ${rank}: rank ${prev} went away mid-run`);
    return msg;
  };
  await sleep(opts.holdMs);
  if (rank === 0) {
    send(next, { kind: 'partial', value });
    sent = true;
    partial = (await receive()).value;
    send(next, { kind: 'total', value: partial });
    await flushEnd(next);
    return done(partial);
  }
  const got = await receive();
  send(next, { kind: 'partial', value: got.value + value });
  sent = true;
  const total = (await receive()).value;
  // The last rank's next is rank 0, which already has the total.
  if ((rank + 1) % world !== 0) send(next, { kind: 'total', value: total });
  await flushEnd(next);
  done(total);
}

main().catch((e) => die(EXIT.broken, `unexpected: ${e?.stack ?? e}`));
