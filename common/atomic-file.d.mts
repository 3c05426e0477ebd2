/** Types of atomic-file.mjs (plain JavaScript so that plain-node tools share it); see it for the why. */

/** The file operations an atomic write needs; injected so a test can see the fsyncs happen in order. */
export interface AtomicFs {
  openSync(path: string, flags: string, mode?: number): number;
  writeSync(fd: number, data: Uint8Array): number;
  fsyncSync(fd: number): void;
  fchmodSync(fd: number, mode: number): void;
  closeSync(fd: number): void;
  renameSync(from: string, to: string): void;
  rmSync(path: string, opts: { force: boolean }): void;
  readFileSync(path: string, encoding: 'utf8'): string;
}

/** How `writeFileAtomicSync` writes. */
export interface AtomicWriteOptions {
  /** The new file's permissions exactly, the umask not applied; default 0o666 less the umask. */
  mode?: number;
  /** Also fsync the file and its directory, so the write survives a power loss; default false. */
  durable?: boolean;
  /** Default `nodeFs`. */
  io?: AtomicFs;
}

/** The real file system. */
export const nodeFs: AtomicFs;

/** Replaces `path` with `data`: a reader sees the old file or the new one; throws what the file system threw. */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, opts?: AtomicWriteOptions): void;

/** `writeFileAtomicSync` of `value` as one line of JSON. */
export function writeJsonAtomicSync(path: string, value: unknown, opts?: AtomicWriteOptions): void;
