/**
 * The readiness probe flags of `tessera submit`: `--probe http:PORT[/PATH]` or `--probe tcp:PORT`,
 * where PORT is the name of one of the spec's ports, and `--probe-delay`, `--probe-period`,
 * `--probe-timeout` (seconds, or a duration such as 500ms) and `--probe-failures` (a count). They
 * become the spec's `readinessProbe`; the allocator checks the values and the port name.
 */
import type { Command } from 'commander';
import { parseDurationMs } from '../../common/resources.ts';
import { usageError } from '../errors.ts';

/** The probe flags as commander hands them over. */
export interface ProbeFlags {
  probe?: string;
  probeDelay?: string;
  probePeriod?: string;
  probeTimeout?: string;
  probeFailures?: string;
}

/** A `readinessProbe` as the flags set it: Kubernetes' names, in seconds. */
export interface SubmitProbe {
  http?: { port: string; path?: string };
  tcp?: { port: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  failureThreshold?: number;
}

/** Help text for the examples block. */
export const PROBE_HELP = `--probe http:PORT/PATH (a GET must answer 200-399) or --probe tcp:PORT (a connection must
open) makes replicas ready only once it passes, and takes them out after --probe-failures (default
3) failures in a row; PORT names one of the spec's ports. Checks run every --probe-period (default
2s) after --probe-delay (default 0), each given --probe-timeout (default 1s).`;

/** Adds the probe flags to `command`. */
export function addProbeOptions(command: Command): Command {
  return command
    .option('--probe <http:PORT[/PATH]|tcp:PORT>', 'readiness probe on the named port, e.g. http:http/health')
    .option('--probe-delay <seconds>', 'wait this long after start before the first check (default 0)')
    .option('--probe-period <seconds>', 'time between checks, e.g. 2 or 500ms (default 2)')
    .option('--probe-timeout <seconds>', 'a check not answered within this long fails (default 1)')
    .option('--probe-failures <n>', 'failed checks in a row that take a ready replica out (default 3)');
}

/** `--probe` and its companions as the spec's `readinessProbe`; undefined without any of them. */
export function probeFields(flags: ProbeFlags): SubmitProbe | undefined {
  const timing = [flags.probeDelay, flags.probePeriod, flags.probeTimeout, flags.probeFailures];
  if (flags.probe === undefined) {
    if (timing.some((t) => t !== undefined))
      throw usageError(
        '--probe',
        'the --probe-* flags tune a probe: give --probe http:PORT/PATH or --probe tcp:PORT',
      );
    return undefined;
  }
  const probe = probeTarget(flags.probe);
  const seconds = [
    ['initialDelaySeconds', flags.probeDelay, '--probe-delay'],
    ['periodSeconds', flags.probePeriod, '--probe-period'],
    ['timeoutSeconds', flags.probeTimeout, '--probe-timeout'],
  ] as const;
  for (const [field, text, flag] of seconds) if (text !== undefined) probe[field] = secondsOf(text, flag);
  if (flags.probeFailures !== undefined) {
    if (!/^\d+$/.test(flags.probeFailures.trim()))
      throw usageError(
        '--probe-failures',
        `--probe-failures '${flags.probeFailures}' must be a whole number`,
      );
    probe.failureThreshold = Number(flags.probeFailures);
  }
  return probe;
}

/** `http:PORT[/PATH]` or `tcp:PORT` as the probe's http or tcp part. */
export function probeTarget(text: string): SubmitProbe {
  const m = /^(http|tcp):([^/]+)(\/.*)?$/.exec(text.trim());
  if (m === null || (m[1] === 'tcp' && m[3] !== undefined))
    throw usageError(
      '--probe',
      `--probe '${text}' must be http:PORT/PATH or tcp:PORT, PORT the name of one of the spec's ports (e.g. --probe http:http/health)`,
    );
  const port = m[2] ?? '';
  if (m[1] === 'tcp') return { tcp: { port } };
  return { http: m[3] === undefined ? { port } : { port, path: m[3] } };
}

/** Seconds as a bare number (2, 0.5), or a duration with a unit (500ms, 1m) turned into seconds. */
function secondsOf(text: string, flag: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const ms = /^\d+$/.test(t) ? undefined : parseDurationMs(t);
  if (ms === undefined || !ms.ok)
    throw usageError(flag, `${flag} '${text}' must be seconds (2, 0.5) or a duration such as 500ms or 1m`);
  return ms.value / 1000;
}
