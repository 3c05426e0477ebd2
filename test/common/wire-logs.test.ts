/** The log messages of the wire: round trips of any valid LogRequest / LogChunk, and their limits. */
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import {
  AGENT_BODIES,
  ALLOCATOR_BODIES,
  checkFrame,
  decodeFrame,
  encodeFrame,
  type Frame,
  LOG_LIMITS,
  type LogChunk,
  type LogRequest,
  makeFrame,
  WIRE_VERSION,
} from '../../common/wire.ts';
import { failure, value } from '../result.ts';

const protoPath = fileURLToPath(new URL('../../common/proto/tessera.proto', import.meta.url));
const RawFrame = protobuf.loadSync(protoPath).lookupType('tessera.v1.Frame');

/** Bytes of a frame built without our checks, as a hostile peer would send it. */
function raw(obj: Record<string, unknown>): Uint8Array {
  return RawFrame.encode(obj).finish();
}

function roundTrip(frame: Frame): Frame {
  return value(decodeFrame(encodeFrame(frame)));
}

const safeText = (maxLength: number) => fc.string({ maxLength }).filter((s) => !s.includes('\0'));
const safeId = fc.string({ minLength: 1, maxLength: 40 }).filter((s) => !s.includes('\0'));
const nullable = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });

const logRequestArb: fc.Arbitrary<LogRequest> = fc.record({
  requestId: safeId,
  podId: safeId,
  epoch: fc.maxSafeNat(),
  tailLines: nullable(fc.integer({ min: 0, max: LOG_LIMITS.maxTailLines })),
  follow: fc.boolean(),
  stream: fc.constantFrom<LogRequest['stream']>('stdout', 'stderr', 'both'),
});

const logChunkArb: fc.Arbitrary<LogChunk> = fc.record({
  requestId: safeId,
  data: fc.uint8Array({ maxLength: 2048 }),
  eof: fc.boolean(),
  error: nullable(safeText(50)),
});

describe('wire log messages', () => {
  it('any LogRequest and LogChunk survives encode then decode unchanged', () => {
    fc.assert(
      fc.property(logRequestArb, logChunkArb, (r, c) => {
        const req = makeFrame({ case: 'logRequest', value: r });
        expect(roundTrip(req)).toEqual(req);
        const chunk = makeFrame({ case: 'logChunk', value: c });
        expect(roundTrip(chunk)).toEqual(chunk);
      }),
    );
  });

  it('carries a full 64 KiB chunk of arbitrary bytes, and refuses one byte more', () => {
    const data = Uint8Array.from({ length: LOG_LIMITS.maxChunkBytes }, (_, i) => (i * 7) % 256);
    const ok = makeFrame({ case: 'logChunk', value: { requestId: 'r', data, eof: false, error: null } });
    expect(roundTrip(ok)).toEqual(ok);
    const over = new Uint8Array(LOG_LIMITS.maxChunkBytes + 1);
    const bad = makeFrame({
      case: 'logChunk',
      value: { requestId: 'r', data: over, eof: false, error: null },
    });
    expect(failure(checkFrame(bad)).field).toBe('logChunk.data');
    // A hostile agent ignoring the limit is refused on decode too.
    const hostile = raw({ version: WIRE_VERSION, logChunk: { requestId: 'r', data: over } });
    expect(failure(decodeFrame(hostile)).field).toBe('logChunk.data');
  });

  it('refuses a LogRequest without a stream, a request id, or with a tail over the cap', () => {
    const base = { requestId: 'r', podId: 'p', epoch: 1, follow: false };
    expect(failure(decodeFrame(raw({ version: WIRE_VERSION, logRequest: base }))).field).toBe(
      'logRequest.stream',
    );
    const noId = raw({ version: WIRE_VERSION, logRequest: { ...base, requestId: '', stream: 1 } });
    expect(failure(decodeFrame(noId)).field).toBe('logRequest.requestId');
    const tail = raw({
      version: WIRE_VERSION,
      logRequest: { ...base, stream: 1, tailLines: LOG_LIMITS.maxTailLines + 1 },
    });
    expect(failure(decodeFrame(tail)).field).toBe('logRequest.tailLines');
  });

  it('lets agents send only LogChunk and the allocator only LogRequest / LogStop', () => {
    expect(AGENT_BODIES).toContain('logChunk');
    expect(AGENT_BODIES).not.toContain('logRequest');
    expect(ALLOCATOR_BODIES).toEqual(expect.arrayContaining(['logRequest', 'logStop']));
    expect(ALLOCATOR_BODIES).not.toContain('logChunk');
  });
});
