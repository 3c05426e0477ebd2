/** How long-running commands (agent, allocator, up) hear that they should stop. */

/**
 * Resolves with the first SIGTERM or SIGINT; a second one exits at once. The handlers stay until
 * `release()`: removing ours inside the handler would leave execa's signal-exit as the only listener,
 * and it re-raises the signal, killing the process before the agent has closed.
 */
export function stopSignals(): { stop: Promise<string>; release(): void } {
  let resolve: (signal: string) => void = () => {};
  const stop = new Promise<string>((r) => {
    resolve = r;
  });
  let seen = false;
  const on = (signal: NodeJS.Signals): void => {
    if (seen) process.exit(signal === 'SIGINT' ? 130 : 143);
    seen = true;
    resolve(signal);
  };
  process.on('SIGTERM', on);
  process.on('SIGINT', on);
  return {
    stop,
    release() {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
    },
  };
}
