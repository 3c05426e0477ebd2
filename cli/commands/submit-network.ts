/**
 * `tessera submit`'s network flags: `--port NAME` (repeatable: a named host port each pod gets) and
 * `--framework` (the rendezvous variables of a distributed workload). The allocator checks the
 * names (common/workload-ports.ts); here they only become the spec's `ports` and `framework`.
 */
import { type Command, Option } from 'commander';
import { FRAMEWORKS, type Framework } from '../../common/workload-ports.ts';
import { collect } from '../flags.ts';

/** The raw values of the flags `addNetworkFlags` defines. */
export interface RawNetworkFlags {
  port?: string[];
  framework?: Framework;
}

/** Adds the network flags to `command`. */
export function addNetworkFlags(command: Command): Command {
  return command
    .option(
      '--port <name>',
      'a named host port each pod gets, read from TESSERA_PORT_<NAME> and PORT (repeat or comma-separate)',
      collect,
    )
    .addOption(
      new Option(
        '--framework <name>',
        'distributed: the rendezvous variables its pods get (default pytorch)',
      ).choices(FRAMEWORKS),
    );
}

/** The spec fields the network flags set. */
export function networkFields(flags: RawNetworkFlags): { ports?: { name: string }[]; framework?: Framework } {
  const out: { ports?: { name: string }[]; framework?: Framework } = {};
  const names = flags.port
    ?.flatMap((x) => x.split(','))
    .map((x) => x.trim())
    .filter((x) => x !== '');
  if (names !== undefined && names.length > 0) out.ports = names.map((name) => ({ name }));
  if (flags.framework !== undefined) out.framework = flags.framework;
  return out;
}
