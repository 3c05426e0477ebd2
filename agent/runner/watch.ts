/**
 * The runner's periodic look at one pod's log files: rotate them when over the cap (the pod writes
 * them directly, see logs.ts) and, until the pod is ready, scan new stdout bytes for the readiness
 * line. Scanning and rotating share one step so a line written just before a rotation is still seen.
 */
import { fileSize, type LogRotation, logPath, readFrom, rotateCopyTruncate, rotatedPath } from './logs.ts';
import { createLineMatcher, type LineMatcher } from './readiness.ts';

/** Bytes of new stdout scanned per poll, so one chatty pod cannot stall the agent's loop. */
const SCAN_CHUNK_BYTES = 1 << 20;

/** What one poll found. */
export interface PollResult {
  /** The readiness line has been seen (now or earlier). */
  ready: boolean;
  /** Streams whose rotation had to drop old bytes (the file was over twice the cap). */
  dropped: { stream: 'stdout' | 'stderr'; bytes: number }[];
}

/** Watches one pod's logs. */
export interface PodLogWatcher {
  poll(): PollResult;
  /** Stop scanning for readiness (ready by delay, or the pod ended). */
  stopScanning(): void;
}

/**
 * A watcher for the logs under `podDir`. `linePrefix` null: rotate only. Scanning starts at byte 0
 * because the runner gives each epoch a fresh stdout file.
 */
export function createPodLogWatcher(
  podDir: string,
  rotation: Readonly<LogRotation>,
  linePrefix: string | null,
): PodLogWatcher {
  let matcher: LineMatcher | null = linePrefix === null ? null : createLineMatcher(linePrefix);
  let offset = 0;
  const stdout = logPath(podDir, 'stdout');

  const scan = (path: string, from: number, all: boolean): number => {
    let pos = from;
    for (;;) {
      const chunk = readFrom(path, pos, SCAN_CHUNK_BYTES);
      pos += chunk.length;
      if (matcher === null || chunk.length === 0 || matcher.feed(chunk) || !all) return pos;
    }
  };

  return {
    poll() {
      const dropped: PollResult['dropped'] = [];
      for (const stream of ['stdout', 'stderr'] as const) {
        const path = logPath(podDir, stream);
        const scanning = stream === 'stdout' && matcher !== null && !matcher.matched;
        const rotated = rotateCopyTruncate(path, rotation);
        if (rotated !== null && rotated.keptFrom > 0) dropped.push({ stream, bytes: rotated.keptFrom });
        if (!scanning) continue;
        if (rotated !== null) {
          // What we had not read yet is now in `.1`, shifted by what the rotation left out.
          if (rotation.maxFiles > 0) {
            scan(rotatedPath(path, 1), Math.max(0, offset - rotated.keptFrom), true);
          }
          offset = 0;
        } else if (fileSize(stdout) < offset) {
          // Truncated by someone else: start over rather than wait for it to grow past the old offset.
          offset = 0;
        }
        offset = scan(stdout, offset, false);
      }
      return { ready: matcher?.matched ?? false, dropped };
    },
    stopScanning() {
      matcher = null;
    },
  };
}
