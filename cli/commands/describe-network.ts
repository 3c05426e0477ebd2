/**
 * The network part of `tessera describe`: the ports and framework rows of the summary, each pod's
 * address and host ports, and the peers (every placed pod's endpoint, in index order).
 */
import { endpoint, peerPortName } from '../../common/workload-ports.ts';
import type { PodView, WorkloadView } from '../client/views.ts';

/** Summary rows: the named ports and, for a distributed workload, its framework and peers. */
export function networkRows(
  d: Pick<WorkloadView, 'type' | 'ports' | 'framework' | 'endpoints'>,
): [string, string][] {
  // Absent in a workload read from an allocator older than ports.
  const ports = d.ports ?? [];
  const rows: [string, string][] = [];
  if (ports.length > 0) rows.push(['Ports', ports.map((p) => p.name).join(', ')]);
  if (d.framework !== undefined) rows.push(['Framework', d.framework]);
  const peer = peerPortName({ type: d.type, ports });
  const peers = (d.endpoints ?? []).flatMap((e) => {
    const port = peer === null ? undefined : e.ports[peer];
    return port === undefined ? [] : [endpoint(e.address, port)];
  });
  if (peers.length > 0) rows.push(['Peers', peers.join(', ')]);
  return rows;
}

/** A pod's address (its node's) and host ports, e.g. ['10.0.0.7', 'rendezvous=40000 http=40001']. */
export function podNetworkCells(d: Pick<WorkloadView, 'endpoints'>, p: PodView): [string, string] {
  const e = (d.endpoints ?? []).find((x) => x.pod === p.name);
  const ports = Object.entries(p.ports ?? {});
  return [
    e?.address ?? '-',
    ports.length === 0 ? '-' : ports.map(([name, port]) => `${name}=${port}`).join(' '),
  ];
}
