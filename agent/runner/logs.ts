/**
 * A pod's logs: `<podDir>/logs/{stdout,stderr}.log`, rotated to `.1` (newest) .. `.N` (oldest).
 *
 * Pods write their output straight into these files: the runner hands the child file descriptors
 * opened with O_APPEND, never a pipe. A pipe to the agent dies with the agent, and the pod would then
 * get SIGPIPE or block on a full pipe; a file descriptor keeps working while the agent restarts.
 * The price is that the agent does not see each write, so it rotates those files by a size check on
 * a timer, copy-then-truncate (`rotateCopyTruncate`): the pod's descriptor keeps pointing at the same
 * file, and O_APPEND makes its next write land at the new end. Bytes the pod writes between the copy
 * and the truncate are lost (a few milliseconds per rotation), and the cap is soft by one check
 * interval's output. Files the agent writes itself go through `createRotatingLogWriter`, which sees
 * every chunk and rotates exactly, by rename.
 */
import {
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  openSync,
  readSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

/** Size cap of one log file and how many rotated files to keep. */
export interface LogRotation {
  /** Default 10 MiB. */
  maxBytes: number;
  /** Rotated files kept (`.1` .. `.maxFiles`); default 3. 0 keeps none: the file is emptied. */
  maxFiles: number;
}

/** 10 MiB x 3 rotated files per stream. */
export const DEFAULT_LOG_ROTATION: Readonly<LogRotation> = { maxBytes: 10 * 1024 * 1024, maxFiles: 3 };

/** A pod's output streams, plus `events`: what the agent itself noted about the pod. */
export type LogStream = 'stdout' | 'stderr' | 'events';

/** Where one of a pod's logs lives: `<podDir>/logs/<stream>.log`. */
export function logPath(podDir: string, stream: LogStream): string {
  return join(podDir, 'logs', `${stream}.log`);
}

/** The i-th rotated file of `path` (1 = newest). */
export function rotatedPath(path: string, i: number): string {
  return `${path}.${i}`;
}

/** Opens a pod's log for the pod to write: created if missing, O_APPEND so rotation by truncate is safe. */
export function openLogForPod(podDir: string, stream: 'stdout' | 'stderr'): number {
  mkdirSync(join(podDir, 'logs'), { recursive: true });
  return openSync(logPath(podDir, stream), 'a', 0o640);
}

/** Moves `.i` to `.i+1` from the oldest down, dropping what would fall past `.maxFiles`. */
function shiftRotated(path: string, maxFiles: number): void {
  rmSync(rotatedPath(path, maxFiles), { force: true });
  for (let i = maxFiles - 1; i >= 1; i--) {
    const from = rotatedPath(path, i);
    if (existsSync(from)) renameSync(from, rotatedPath(path, i + 1));
  }
}

/** Copies bytes [start, end) of `from` into a new file `to`, in bounded chunks. */
function copyRange(from: string, to: string, start: number, end: number): void {
  const src = openSync(from, 'r');
  const dst = openSync(to, 'w', 0o640);
  try {
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(1, end - start)));
    let pos = start;
    while (pos < end) {
      const n = readSync(src, buf, 0, Math.min(buf.length, end - pos), pos);
      if (n === 0) break;
      let off = 0;
      while (off < n) off += writeSync(dst, buf, off, n - off);
      pos += n;
    }
  } finally {
    closeSync(src);
    closeSync(dst);
  }
}

/** What a copy-truncate rotation did: `.1` holds bytes [keptFrom, size) of the old file. */
export interface Rotated {
  size: number;
  keptFrom: number;
}

/**
 * Rotates `path` when it is over `maxBytes`: copy to `.1` (older ones shift), then truncate to zero.
 * The copy keeps the whole file when it is at most twice the cap (the usual case: one check
 * interval's output over); beyond that (the pod wrote freely while the agent was down) it keeps
 * only the last `maxBytes`, so no rotated file grows without bound. Null when no rotation was due.
 */
export function rotateCopyTruncate(path: string, rotation: Readonly<LogRotation>): Rotated | null {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return null;
  }
  if (size <= rotation.maxBytes) return null;
  const keptFrom = size > 2 * rotation.maxBytes ? size - rotation.maxBytes : 0;
  if (rotation.maxFiles > 0) {
    shiftRotated(path, rotation.maxFiles);
    copyRange(path, rotatedPath(path, 1), keptFrom, size);
  }
  truncateSync(path, 0);
  return { size, keptFrom };
}

/** Reads up to `maxBytes` of `path` from byte `from`; empty when the file is missing or shorter. */
export function readFrom(path: string, from: number, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return Buffer.alloc(0);
  }
  try {
    const size = fstatSync(fd).size;
    const len = Math.max(0, Math.min(maxBytes, size - from));
    const buf = Buffer.alloc(len);
    let got = 0;
    while (got < len) {
      const n = readSync(fd, buf, got, len - got, from + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/** Size of `path` in bytes, 0 when missing. */
export function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/**
 * The last `bytes` of a pod's log, across rotated files (oldest first), as text; for `tessera logs`.
 * A multi-byte character cut at the start is dropped rather than shown as a replacement character.
 */
export function readLogTail(podDir: string, bytes: number, stream: LogStream = 'stdout'): string {
  const path = logPath(podDir, stream);
  const parts: Buffer[] = [];
  let want = Math.max(0, Math.floor(bytes));
  // Bounded, so a directory with stray `.999` files cannot make this scan forever.
  for (let i = 0; i <= 100 && want > 0; i++) {
    const file = i === 0 ? path : rotatedPath(path, i);
    if (i > 0 && !existsSync(file)) break;
    const size = fileSize(file);
    const take = Math.min(size, want);
    parts.unshift(readFrom(file, size - take, take));
    want -= take;
  }
  const buf = Buffer.concat(parts);
  let start = 0;
  while (start < buf.length && start < 3 && ((buf[start] ?? 0) & 0xc0) === 0x80) start++;
  return buf.subarray(start).toString('utf8');
}

/** A log file the agent writes itself, rotated by rename when the next chunk would pass the cap. */
export interface RotatingLogWriter {
  readonly path: string;
  write(chunk: string | Uint8Array): void;
  close(): void;
}

/**
 * Opens `path` for appending with exact rotation: before a write that would take the file past
 * `maxBytes`, the file moves to `.1` and a new one starts. A single chunk larger than the cap is
 * written whole into a fresh file rather than split, so a line is never torn across files.
 */
export function createRotatingLogWriter(
  path: string,
  rotation: Readonly<LogRotation> = DEFAULT_LOG_ROTATION,
): RotatingLogWriter {
  let fd: number | null = null;
  let size = 0;
  const open = (): number => {
    if (fd === null) {
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(path, 'a', 0o640);
      size = fstatSync(fd).size;
    }
    return fd;
  };
  const rotate = (): void => {
    if (fd !== null) closeSync(fd);
    fd = null;
    if (rotation.maxFiles > 0) {
      shiftRotated(path, rotation.maxFiles);
      renameSync(path, rotatedPath(path, 1));
    } else {
      rmSync(path, { force: true });
    }
  };
  return {
    path,
    write(chunk) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      open();
      if (size > 0 && size + buf.length > rotation.maxBytes) rotate();
      const out = open();
      let off = 0;
      while (off < buf.length) off += writeSync(out, buf, off, buf.length - off);
      size += buf.length;
    },
    close() {
      if (fd !== null) closeSync(fd);
      fd = null;
    },
  };
}

/**
 * Starts a new file for `path` by rename (`path` -> `.1`, older ones shift) when it has content.
 * Only safe when nobody writes to it: the runner calls it before a new epoch of a pod starts, so each
 * epoch's output begins in a fresh file and its readiness scan never sees an earlier epoch's lines.
 */
export function rotateByRename(path: string, rotation: Readonly<LogRotation>): void {
  if (fileSize(path) === 0) return;
  if (rotation.maxFiles > 0) {
    shiftRotated(path, rotation.maxFiles);
    renameSync(path, rotatedPath(path, 1));
  } else {
    rmSync(path, { force: true });
  }
}
