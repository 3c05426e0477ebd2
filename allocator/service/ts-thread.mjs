/**
 * A worker thread's entry when the allocator runs from its TypeScript sources (bin/tessera.js with
 * tsx): worker threads do not inherit tsx's loader, so this registers it in the thread, then loads
 * the thread's module. A file, not `new Worker(code, { eval: true })`: a thread started from eval'd
 * code never gets its own nested worker running (the PostgreSQL store's synckit bridge hangs there).
 */
import { workerData } from 'node:worker_threads';

const { tsxApi, module } = workerData.tsThread;
const { register } = await import(tsxApi);
register();
await import(module);
