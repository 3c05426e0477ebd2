/**
 * The one way Tessera replaces a file that something else reads: written to a temp file beside it,
 * then renamed over it, so a reader sees the old file or the new one, never half of one. Plain
 * JavaScript, with its types in atomic-file.d.mts, because the fence guard (agent/fence-guard.mjs)
 * and the sim GPU tools (agent/gpu/sim/*.mjs) run under plain node, without tsx, and use it too.
 */
import * as fs from 'node:fs';
import { dirname } from 'node:path';

/** The real file system. */
export const nodeFs = {
  openSync: (p, f, m) => fs.openSync(p, f, m),
  writeSync: (fd, d) => fs.writeSync(fd, d),
  fsyncSync: (fd) => fs.fsyncSync(fd),
  fchmodSync: (fd, m) => fs.fchmodSync(fd, m),
  closeSync: (fd) => fs.closeSync(fd),
  renameSync: (a, b) => fs.renameSync(a, b),
  rmSync: (p, o) => fs.rmSync(p, o),
  readFileSync: (p, e) => fs.readFileSync(p, e),
};

// Unique within the process, so two writes of one file in flight (async callers) never share a temp file.
let tmpCounter = 0;

/**
 * Replaces `path` with `data` atomically. Options: `mode`, the new file's permissions exactly, the
 * umask not applied (default: 0o666 less the umask, as writeFileSync); `durable`, default false: also fsync the file before the
 * rename and its directory after it, so a crash or power loss leaves the old file or the new one
 * (without the file fsync the renamed file can come back empty, ext4's delayed allocation; without
 * the directory fsync the rename itself may not survive); `io`, default `nodeFs`, injected by tests.
 * Throws what the file system threw; a failed write leaves no temp file. An error from the directory
 * fsync, after the rename, carries `dirSync: true`.
 */
export function writeFileAtomicSync(path, data, opts = {}) {
  const { mode, durable = false, io = nodeFs } = opts;
  const tmp = `${path}.tmp-${process.pid}-${tmpCounter++}`;
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  let fd = null;
  try {
    // A leftover of a crashed writer with this name keeps its old mode: start from no file.
    io.rmSync(tmp, { force: true });
    fd = io.openSync(tmp, 'w', mode ?? 0o666);
    if (mode !== undefined) io.fchmodSync(fd, mode);
    // A write may be short; loop until every byte is in.
    let written = 0;
    while (written < bytes.length) written += io.writeSync(fd, bytes.subarray(written));
    if (durable) io.fsyncSync(fd);
    io.closeSync(fd);
    fd = null;
    io.renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) io.closeSync(fd);
    io.rmSync(tmp, { force: true });
    throw e;
  }
  if (!durable) return;
  try {
    const dirFd = io.openSync(dirname(path), 'r');
    try {
      io.fsyncSync(dirFd);
    } finally {
      io.closeSync(dirFd);
    }
  } catch (e) {
    throw Object.assign(e instanceof Error ? e : new Error(String(e)), { dirSync: true });
  }
}

/** `writeFileAtomicSync` of `value` as one line of JSON. */
export function writeJsonAtomicSync(path, value, opts = {}) {
  writeFileAtomicSync(path, `${JSON.stringify(value)}\n`, opts);
}
