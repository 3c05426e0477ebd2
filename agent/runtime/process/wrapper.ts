/**
 * The argv that starts a pod's process: a tiny `sh` that writes its own pid into every cgroup.procs
 * file of the pod, then `exec`s `setpriv` to drop to the pod's uid and gid, which `exec`s the
 * command. So the pod is in its cgroups, and no longer root, before its first instruction: nothing it
 * forks can start outside them. Pure.
 */

/** Who the pod becomes; null: it stays the agent's user (an agent that is not root cannot switch). */
export interface PodIdentity {
  uid: number;
  gid: number;
}

/** Exit code of the wrapper when it cannot join a cgroup: the pod never ran. */
export const EXIT_CGROUP_JOIN_FAILED = 125;

const SCRIPT = [
  'n=$1; shift',
  'while [ "$n" -gt 0 ]; do',
  `  echo $$ > "$1" || { echo "tessera: cannot join cgroup $1" >&2; exit ${EXIT_CGROUP_JOIN_FAILED}; }`,
  '  shift; n=$((n-1))',
  'done',
  'exec "$@"',
].join('\n');

/** `[file, ...args]` for spawn: joins `procsFiles`, becomes `identity`, runs `command`. */
export function wrapperArgv(
  procsFiles: readonly string[],
  identity: PodIdentity | null,
  command: readonly string[],
): string[] {
  const drop =
    identity === null
      ? []
      : [
          'setpriv',
          `--reuid=${identity.uid}`,
          `--regid=${identity.gid}`,
          '--clear-groups',
          // No setuid binary may take the pod back to root.
          '--no-new-privs',
          '--',
        ];
  return [
    '/bin/sh',
    '-c',
    SCRIPT,
    'tessera-pod',
    String(procsFiles.length),
    ...procsFiles,
    ...drop,
    ...command,
  ];
}
