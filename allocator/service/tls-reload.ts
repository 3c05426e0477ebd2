/**
 * Keeps a long-running allocator's certificate current. cert-manager, or an operator's renewal job,
 * replaces the certificate and key files well before they expire; the allocator re-reads them every
 * `everyMs` and swaps a changed, valid pair into the running server (`RunningAllocator.setTls`), so
 * a renewal needs no restart and no agent is cut off. Polling, not fs.watch: a Kubernetes Secret
 * volume changes by swapping a symlink, which watchers on the files themselves miss.
 */
import type { Logger } from '../../common/log.ts';
import { readServerTls, type ServerTls } from '../../common/tls-files.ts';

/** What `watchTlsFiles` needs. */
export interface TlsWatchOptions {
  certFile: string;
  keyFile: string;
  /** The pair being served now. */
  current: ServerTls;
  /** How often to look. Default 60000 (a renewal lands weeks before expiry). */
  everyMs?: number;
  /** Serves a new pair. */
  apply: (tls: ServerTls) => void;
  log: Logger;
  now?: () => number;
}

/** Starts re-reading the files; returns the stop. A broken new pair is logged and the old one kept. */
export function watchTlsFiles(o: TlsWatchOptions): () => void {
  const now = o.now ?? Date.now;
  let served = o.current;
  let lastProblem = '';
  const tick = (): void => {
    const read = readServerTls(o.certFile, o.keyFile, now());
    if (!read.ok) {
      // Said once per distinct problem: a half-written pair is usually whole by the next look.
      if (read.error.message !== lastProblem)
        o.log.warn('TLS files not reloaded; still serving the previous certificate', {
          error: read.error.message,
        });
      lastProblem = read.error.message;
      return;
    }
    lastProblem = '';
    if (read.value.cert === served.cert && read.value.key === served.key) return;
    o.apply(read.value);
    served = read.value;
    o.log.info('TLS certificate reloaded', { certFile: o.certFile });
  };
  const timer = setInterval(tick, o.everyMs ?? 60_000);
  // Never the reason the process stays up.
  timer.unref();
  return () => clearInterval(timer);
}
