/**
 * Reads a workload's placed pods and their nodes' addresses from the store and turns them into the
 * env of one pod's StartPod (rendezvous.ts), or says to hold it: a distributed pod starts only once
 * its whole gang is bound with addresses and ports, since its env names every peer. A gang is bound
 * in one plan, so the hold lasts only while a node of it is unknown or reports no address.
 */
import type { Db } from '../store/db.ts';
import { getNode } from '../store/nodes.ts';
import { podsOfWorkload, SCHEDULED_POD_PHASES } from '../store/pods.ts';
import type { WorkloadRecord } from '../store/workloads.ts';
import { type GangMember, gangComplete, networkEnv } from './rendezvous.ts';

/** A workload's placed pods in index order: their names and what the rendezvous needs of each. */
export interface Gang {
  names: string[];
  members: GangMember[];
}

/** The N of pod name `<workload>-N`; names of another shape sort last, by name. */
function ordinal(name: string): number {
  const n = Number(name.slice(name.lastIndexOf('-') + 1));
  return Number.isSafeInteger(n) && n >= 0 ? n : Number.MAX_SAFE_INTEGER;
}

/** `w`'s placed pods (bound, starting, running), ordered by ordinal: pod `name-0` is index 0 of a fresh gang. */
export function gangOf(db: Db, w: WorkloadRecord): Gang {
  const pods = podsOfWorkload(db, w.id, SCHEDULED_POD_PHASES).filter((p) => p.node !== null);
  pods.sort((a, b) => ordinal(a.name) - ordinal(b.name) || (a.name < b.name ? -1 : 1));
  const addresses = new Map<string, string | null>();
  const addressOf = (node: string): string | null => {
    if (!addresses.has(node)) addresses.set(node, getNode(db, node)?.network?.address ?? null);
    return addresses.get(node) ?? null;
  };
  return {
    names: pods.map((p) => p.name),
    members: pods.map((p) => ({ address: addressOf(p.node as string), ports: p.ports })),
  };
}

/** The network env of pod `pod` of `w` in `gang`, or null while its StartPod must wait for the gang. */
export function podNetworkEnv(w: WorkloadRecord, gang: Gang, pod: string): Record<string, string> | null {
  const index = gang.names.indexOf(pod);
  if (index < 0) return null;
  if (w.spec.type === 'distributed' && w.spec.ports.length > 0) {
    if (gang.names.length < w.spec.minReplicas || !gangComplete(w.spec, gang.members)) return null;
  }
  return networkEnv(w.spec, gang.members, index);
}
