/**
 * The one codec of the agent <-> allocator wire (docs/architecture.md §5). The encoder and decoder
 * are generated from common/proto/tessera.proto (`npm run gen:wire`); only this file,
 * wire-encode.ts, wire-decode.ts and wire-enums.ts import them. `encodeFrame` checks a frame against every limit before it leaves;
 * `decodeFrame` never throws: a peer's bytes come back as a typed Frame or as a TESSERA_E_BAD_FRAME
 * error naming the field and carrying the websocket close code to answer with (`closeCodeOf`).
 */
import { err, formatError, ok, type Result, type TesseraError, tesseraError } from './errors.ts';
import { Frame as FrameCodec } from './proto/gen/tessera.ts';
import { assertFrame, BadFrame, checkVersion } from './wire-check.ts';
import { fromProto } from './wire-decode.ts';
import { toProto } from './wire-encode.ts';
import {
  type Frame,
  type FrameBody,
  MAX_FRAME_BYTES,
  WIRE_VERSION,
  WS_CLOSE,
  type WsCloseCode,
} from './wire-types.ts';

export * from './wire-log-types.ts';
export * from './wire-types.ts';

/** Builds a frame of the current version around `body`. */
export function makeFrame(body: FrameBody): Frame {
  return { version: WIRE_VERSION, body };
}

/** The websocket close code a decode or check error suggests (4400 when it names none). */
export function closeCodeOf(error: TesseraError): WsCloseCode {
  const code = error.context?.closeCode;
  const known: readonly number[] = Object.values(WS_CLOSE);
  return typeof code === 'number' && known.includes(code) ? (code as WsCloseCode) : WS_CLOSE.badFrame;
}

/** Checks a frame against every wire limit without encoding it; the error names the first bad field. */
export function checkFrame(frame: Frame): Result<Frame> {
  try {
    assertFrame(frame);
    return ok(frame);
  } catch (e) {
    return err(asFrameError(e));
  }
}

/** What `encodeFrame` throws: the frame breaks a wire limit; `error` names the field and the limit. */
export class FrameRefused extends Error {
  constructor(readonly error: TesseraError) {
    super(formatError(error));
    this.name = 'FrameRefused';
  }
}

/**
 * Encodes a frame after checking it. Throws FrameRefused on a frame that breaks a limit or encodes
 * over MAX_FRAME_BYTES: the peer would refuse it, so it is a bug on this side and should surface
 * here, where the stack names the caller (a sender that must go on, as dispatch does, catches it).
 */
export function encodeFrame(frame: Frame): Uint8Array {
  const checked = checkFrame(frame);
  if (!checked.ok) throw new FrameRefused(checked.error);
  const bytes = FrameCodec.encode(toProto(frame)).finish();
  if (bytes.byteLength > MAX_FRAME_BYTES) {
    const e = tesseraError(
      'TESSERA_E_BAD_FRAME',
      `frame encodes to ${bytes.byteLength} bytes, over the limit of ${MAX_FRAME_BYTES}`,
      { context: { bytes: bytes.byteLength, limit: MAX_FRAME_BYTES, closeCode: WS_CLOSE.tooBig } },
    );
    throw new FrameRefused(e);
  }
  return bytes;
}

/** Decodes a peer's bytes into a checked Frame; never throws, whatever the bytes. */
export function decodeFrame(bytes: Uint8Array): Result<Frame> {
  try {
    if (!(bytes instanceof Uint8Array)) {
      throw new BadFrame('frame', `frame must be binary, got ${typeof bytes}`);
    }
    // Before decoding: a protobuf decoder allocates as it reads, so an oversized frame is refused
    // unread (ws's maxPayload stops it earlier on a socket; this guards every other caller).
    if (bytes.byteLength > MAX_FRAME_BYTES) {
      throw new BadFrame(
        'frame',
        `frame is ${bytes.byteLength} bytes, over the limit of ${MAX_FRAME_BYTES}`,
        WS_CLOSE.tooBig,
        { bytes: bytes.byteLength, limit: MAX_FRAME_BYTES },
      );
    }
    let msg: ReturnType<typeof FrameCodec.decode>;
    try {
      // The generated decoder skips a field sent with the wrong wire type as unknown, so every field
      // it hands back has the type the schema says; the guards below check the values.
      msg = FrameCodec.decode(bytes);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new BadFrame('frame', `frame is not a valid tessera.v1.Frame protobuf (${why})`);
    }
    // Version first: a newer peer's body may legitimately fail the checks below, and "upgrade" is
    // the useful answer then, not "bad field". Two bodies in one frame are no error: protobuf keeps
    // the last, as it specifies for a oneof.
    checkVersion(msg.version);
    const frame = fromProto(msg);
    assertFrame(frame);
    return ok(frame);
  } catch (e) {
    return err(asFrameError(e));
  }
}

function asFrameError(e: unknown): TesseraError {
  if (e instanceof BadFrame) return e.toTesseraError();
  // Anything else is a bug in this codec, reported as a bad frame so the peer is closed, not the process.
  const why = e instanceof Error ? e.message : String(e);
  return tesseraError('TESSERA_E_BAD_FRAME', `frame could not be read: ${why}`, {
    context: { closeCode: WS_CLOSE.badFrame },
  });
}
