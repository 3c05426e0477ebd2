/** Types of fence-guard-log.mjs (plain JavaScript, as the guard that loads it); see it for the why. */

/** A level name of pino's, least severe first. */
export type GuardLogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';

/** Level names, least severe first. */
export const GUARD_LOG_LEVELS: readonly GuardLogLevel[];

/** The level a guard logs at when its command line names none. */
export const DEFAULT_GUARD_LOG_LEVEL: GuardLogLevel;

/** True when `s` names one of GUARD_LOG_LEVELS. */
export function isGuardLogLevel(s: string): s is GuardLogLevel;

/** Writes one line at `level`, or drops it when below the log's level. */
export type GuardLog = (level: GuardLogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** A log that drops lines below `minLevel` and hands the others, each a JSON line, to `write` (default stdout). */
export function createGuardLog(minLevel: GuardLogLevel, write?: (line: string) => unknown): GuardLog;
