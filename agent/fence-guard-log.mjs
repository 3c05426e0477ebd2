// The fence guard's log (agent/fence-guard.mjs): one JSON object per line, shaped as the agent's
// (common/log.ts: time, level, msg, then fields), on stdout, which the agent points at
// <data>/fence-guard.log. Plain JS, no dependencies, as the guard: it cannot load common/log.ts
// (TypeScript, and pino). The level is the agent's `--log-level`, passed as the guard's own.

/** Level names, least severe first: pino's, so the guard reads the agent's `--log-level` as the agent does. */
export const GUARD_LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** The level a guard logs at when its command line names none. */
export const DEFAULT_GUARD_LOG_LEVEL = 'info';

/** True when `s` names one of GUARD_LOG_LEVELS. */
export function isGuardLogLevel(s) {
  return GUARD_LOG_LEVELS.includes(s);
}

/**
 * A `log(level, msg, fields)` that drops lines below `minLevel` and hands the others, each a JSON line,
 * to `write` (default stdout). Throws on a `minLevel` that is not one of GUARD_LOG_LEVELS.
 */
export function createGuardLog(minLevel, write = (line) => process.stdout.write(line)) {
  const min = GUARD_LOG_LEVELS.indexOf(minLevel);
  if (min < 0) throw new Error(`unknown log level ${minLevel}; accepted: ${GUARD_LOG_LEVELS.join(', ')}`);
  return (level, msg, fields = {}) => {
    if (GUARD_LOG_LEVELS.indexOf(level) < min) return;
    const line = { time: new Date().toISOString(), level, msg, component: 'fence-guard', pid: process.pid };
    write(`${JSON.stringify({ ...line, ...fields })}\n`);
  };
}
