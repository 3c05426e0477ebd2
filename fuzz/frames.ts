/**
 * Websocket sessions on the agents' link: an upgrade with the join token, none, a wrong one or a
 * user token, then frames: random bytes, text, valid frames (common/wire.ts encodeFrame) with
 * fuzzed fields, and valid frames with bytes flipped, cut or added. A session that opens with a
 * valid Hello learns its pods from Welcome and StartPod and reports on them, so fuzzed states reach
 * the lifecycle code and not only the decoder.
 */
import fc from 'fast-check';
import { WebSocket } from 'ws';
import {
  decodeFrame,
  encodeFrame,
  type FrameBody,
  makeFrame,
  WIRE_VERSION,
  type WirePodState,
  WS_OPTIONS,
} from '../common/wire.ts';
import { edgeNumber, nastyString } from './values.ts';

/** How a session authenticates at the upgrade. */
export type WsAuth = 'join' | 'none' | 'wrong' | 'user';

/** One message of a session. */
export type WsMessage =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'text'; text: string }
  /** A Status about the pods the allocator gave this session, each in one of `states`. */
  | { kind: 'report'; states: { state: WirePodState; exitCode: number | null }[]; flip: number[] };

/** One websocket session. */
export interface WsSession {
  auth: WsAuth;
  /** Starts with a valid Hello for a node name no one has used. */
  hello: boolean;
  messages: WsMessage[];
}

const POD_STATES: WirePodState[] = [
  'starting',
  'running',
  'ready',
  'stopping',
  'exited',
  'lost',
  'swapped-out',
];

const wireText = (max: number) => nastyString(max).filter((s) => !s.includes('\u0000'));
const nat = fc.oneof(fc.nat(), fc.constantFrom(0, 2 ** 31 - 1, 2 ** 32 - 1, Number.MAX_SAFE_INTEGER));

/** A frame body an agent sends, its fields valid-ish. */
const agentBody: fc.Arbitrary<FrameBody> = fc.oneof(
  fc
    .record({
      node: wireText(40),
      uuid: wireText(40),
      memoryMiB: nat,
      pods: fc.array(fc.record({ podId: wireText(30), epoch: nat, state: fc.constantFrom(...POD_STATES) }), {
        maxLength: 3,
      }),
    })
    .map(
      (h): FrameBody => ({
        case: 'hello',
        value: {
          node: h.node,
          agentVersion: 'fuzz',
          token: 'tj.x.y',
          inventory: {
            gpus: [
              {
                uuid: h.uuid,
                index: 0,
                model: 'H100',
                memoryMiB: h.memoryMiB,
                migMode: 'disabled',
                healthy: true,
              },
            ],
            cpuMillis: 1000,
            memoryMiB: 1024,
            labels: {},
            driverVersion: '580',
            cudaVersion: null,
            network: null,
          },
          runningPods: h.pods.map((p) => ({ ...p, pid: null })),
        },
      }),
    ),
  fc
    .record({
      seq: nat,
      atMs: nat,
      podId: wireText(30),
      epoch: nat,
      state: fc.constantFrom(...POD_STATES),
      exitCode: fc.option(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { nil: null }),
      util: fc.option(fc.double({ min: 0, max: 100, noNaN: true }), { nil: null }),
    })
    .map(
      (s): FrameBody => ({
        case: 'status',
        value: {
          seq: s.seq,
          atMs: s.atMs,
          gpuSamples: [
            {
              uuid: 'GPU-fuzz',
              index: 0,
              utilizationPct: s.util,
              memoryUsedMiB: 1,
              memoryTotalMiB: 2,
              temperatureC: null,
              powerDrawW: null,
            },
          ],
          podStates: [
            {
              podId: s.podId,
              epoch: s.epoch,
              state: s.state,
              pid: null,
              exitCode: s.exitCode,
              signal: null,
              reason: null,
              startedAtMs: null,
            },
          ],
        },
      }),
    ),
  fc.record({ seq: nat, kind: wireText(30), reason: wireText(100), n: edgeNumber }).map(
    (e): FrameBody => ({
      case: 'event',
      value: {
        seq: e.seq,
        atMs: 0,
        kind: e.kind,
        podId: null,
        gpuUuid: null,
        reason: e.reason,
        numbers: { n: e.n },
      },
    }),
  ),
  fc
    .record({ requestId: wireText(40), data: fc.uint8Array({ maxLength: 100 }), eof: fc.boolean() })
    .map((l): FrameBody => ({ case: 'logChunk', value: { ...l, error: null } })),
  nat.map((seq): FrameBody => ({ case: 'ack', value: { seq } })),
  // Allocator-only bodies, which an agent must not send.
  nat.map(
    (epoch): FrameBody => ({ case: 'stopPod', value: { podId: 'p', epoch, reason: 'x', graceSeconds: 1 } }),
  ),
);

/** The frame's bytes, or a byte of zero when its fields break a wire limit (the encoder refuses it). */
function encoded(body: FrameBody, version: number): Uint8Array {
  try {
    return encodeFrame({ ...makeFrame(body), version });
  } catch {
    return new Uint8Array([0]);
  }
}

/** Flips, cuts and appends bytes: `ops` are [position, value] pairs. */
function damage(bytes: Uint8Array, ops: [number, number][]): Uint8Array {
  let out = Uint8Array.from(bytes);
  for (const [at, v] of ops) {
    const i = out.length === 0 ? 0 : at % out.length;
    switch (v % 4) {
      case 0:
        out[i] = v & 0xff;
        break;
      case 1:
        out = out.slice(0, i);
        break;
      case 2:
        out = Uint8Array.from([...out, ...new Uint8Array(1 + (v % 8)).fill(0xff)]);
        break;
      default:
        out = Uint8Array.from([...out.slice(0, i), ...out.slice(i, i + 8), ...out.slice(i)]);
    }
  }
  return out;
}

const message: fc.Arbitrary<WsMessage> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.uint8Array({ maxLength: 512 }).map((bytes): WsMessage => ({ kind: 'bytes', bytes })),
  },
  { weight: 1, arbitrary: nastyString(200).map((text): WsMessage => ({ kind: 'text', text })) },
  {
    weight: 4,
    arbitrary: fc
      .record({
        body: agentBody,
        version: fc.constantFrom(WIRE_VERSION, WIRE_VERSION, WIRE_VERSION, 0, WIRE_VERSION + 1, 2 ** 32 - 1),
      })
      .map((f): WsMessage => ({ kind: 'bytes', bytes: encoded(f.body, f.version) })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        body: agentBody,
        ops: fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 4 }),
      })
      .map((f): WsMessage => ({ kind: 'bytes', bytes: damage(encoded(f.body, 1), f.ops) })),
  },
  {
    weight: 3,
    arbitrary: fc
      .record({
        states: fc.array(
          fc.record({
            state: fc.constantFrom(...POD_STATES),
            exitCode: fc.option(fc.integer({ min: -1, max: 255 }), { nil: null }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        flip: fc.array(fc.nat(), { maxLength: 2 }),
      })
      .map((r): WsMessage => ({ kind: 'report', ...r })),
  },
  { weight: 1, arbitrary: fc.constant<WsMessage>({ kind: 'bytes', bytes: new Uint8Array(1024 * 1024 + 1) }) },
);

/** Sessions; most with the join token, as a fuzzer that cannot get in finds little. */
export const wsSessions: fc.Arbitrary<WsSession> = fc.record({
  auth: fc.constantFrom<WsAuth>('join', 'join', 'join', 'join', 'none', 'wrong', 'user'),
  hello: fc.boolean(),
  messages: fc.array(message, { minLength: 1, maxLength: 8 }),
});

/** What a session did: messages sent, how the upgrade or the socket ended. */
export interface WsOutcome {
  sent: number;
  /** The HTTP status of a refused upgrade, 101 when it opened. */
  upgrade: number;
  /** The close code, or null when the deadline ran out first (a hang). */
  closeCode: number | null;
  hang: boolean;
}

/** Tokens a session may present. */
export interface WsTokens {
  join: string;
  user: string;
}

let nodeSeq = 0;

/** Runs `s` against the link at `wsUrl`; always ends within `deadlineMs`. */
export function runSession(
  wsUrl: string,
  tokens: WsTokens,
  s: WsSession,
  deadlineMs: number,
): Promise<WsOutcome> {
  const token = { join: tokens.join, user: tokens.user, wrong: 'tj.nope.nope', none: '' }[s.auth];
  const headers: Record<string, string> = token === '' ? {} : { authorization: `Bearer ${token}` };
  const ws = new WebSocket(wsUrl, { headers, ...WS_OPTIONS, maxPayload: 4 * 1024 * 1024 });
  const pods: { podId: string; epoch: number }[] = [];
  const out: WsOutcome = { sent: 0, upgrade: 0, closeCode: null, hang: false };
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      ws.terminate();
      resolve(out);
    };
    const timer = setTimeout(() => {
      out.hang = true;
      finish();
    }, deadlineMs);
    ws.on('unexpected-response', (_req, res) => {
      out.upgrade = res.statusCode ?? 0;
      res.resume();
      finish();
    });
    ws.on('error', () => finish());
    ws.on('close', (code) => {
      out.closeCode = code;
      finish();
    });
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) return;
      const f = decodeFrame(new Uint8Array(data));
      if (!f.ok) return;
      if (f.value.body.case === 'welcome') pods.push(...f.value.body.value.desiredPods);
      if (f.value.body.case === 'startPod')
        pods.push({ podId: f.value.body.value.podId, epoch: f.value.body.value.epoch });
    });
    ws.on('open', async () => {
      out.upgrade = 101;
      const send = (m: Uint8Array | string) =>
        new Promise<void>((r) => {
          if (ws.readyState !== WebSocket.OPEN) return r();
          out.sent += 1;
          ws.send(m, { binary: typeof m !== 'string' }, () => r());
        });
      if (s.hello) {
        const hello = makeFrame({
          case: 'hello',
          value: {
            node: `fz-node-${process.pid}-${nodeSeq++}`,
            agentVersion: 'fuzz',
            token,
            inventory: {
              gpus: [
                {
                  uuid: `GPU-fz-${nodeSeq}`,
                  index: 0,
                  model: 'H100',
                  memoryMiB: 81_920,
                  migMode: 'disabled',
                  healthy: true,
                },
              ],
              cpuMillis: 64_000,
              memoryMiB: 512_000,
              labels: {},
              driverVersion: '580',
              cudaVersion: null,
              network: null,
            },
            runningPods: [],
          },
        });
        await send(encodeFrame(hello));
        // Welcome (and any StartPod) arrives within a few milliseconds on loopback.
        await new Promise((r) => setTimeout(r, 20));
      }
      let seq = 1;
      for (const m of s.messages) {
        if (done) break;
        if (m.kind === 'bytes') await send(m.bytes);
        else if (m.kind === 'text') await send(m.text);
        else {
          const podStates = pods.slice(0, m.states.length).map((p, i) => ({
            podId: p.podId,
            // Sometimes a stale or future epoch.
            epoch: m.flip.includes(i) ? p.epoch + 1 : p.epoch,
            state: m.states[i]?.state ?? 'running',
            pid: 4242,
            exitCode: m.states[i]?.exitCode ?? null,
            signal: null,
            reason: null,
            startedAtMs: Date.now(),
          }));
          await send(
            encodeFrame(
              makeFrame({
                case: 'status',
                value: { seq: seq++, atMs: Date.now(), gpuSamples: [], podStates },
              }),
            ),
          );
        }
      }
      // Let the allocator answer or close, then hang up ourselves.
      setTimeout(() => {
        if (!done) ws.close(1000);
      }, 30);
    });
  });
}
