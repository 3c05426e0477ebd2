/**
 * Sends agents what the store says they owe (docs/architecture.md §5). Level-triggered: every Bound pod's
 * StartPod and every Stopping pod's StopPod is sent to its node if connected, and sent again after
 * `resendMs` or when the node reconnects; the agent's epoch rule makes a repeat harmless. A StartPod
 * is held while a pod being stopped on the same node still holds one of its GPUs or host ports, so
 * the evicted and the new tenant never share the memory or a port at once, and a distributed pod's
 * until its whole gang is bound (pod-network.ts): its env names every peer.
 *
 * Each pod is sent on its own: a StartPod that cannot be built (its pull secret is gone) or that the
 * wire refuses (a spec stored before its caps existed, or by a bug) fails that pod with the reason,
 * and the pods after it still go out in the same pass.
 */
import { parseImageRef } from '../../common/image-ref.ts';
import type { Logger } from '../../common/log.ts';
import { type DefaultsOf, withDefaults } from '../../common/options.ts';
import { credentialMismatch, type RegistryCredential } from '../../common/registry-secret.ts';
import type { Slicer } from '../../common/slicer.ts';
import type { Frame, Status, WirePodSpec, WireReadiness } from '../../common/wire.ts';
import { FrameRefused, makeFrame } from '../../common/wire.ts';
import type { WorkloadSpec } from '../../common/workload.ts';
import { confirmAbsent, failUnstartable, type LifecycleResult } from '../lifecycle/reports.ts';
import { wirePodId } from '../link/pod-id.ts';
import type { Db } from '../store/db.ts';
import { listPods, type PodRecord, podsInPhase } from '../store/pods.ts';
import { createSecretHint, registryCredentialOf } from '../store/registry-secrets.ts';
import { getWorkload, type WorkloadRecord } from '../store/workloads.ts';
import { type Gang, gangOf, podNetworkEnv } from './pod-network.ts';
import { hostPortOf } from './pod-ports.ts';

/**
 * Where frames go: the link's `dispatch`. False when the node is not connected; throws FrameRefused
 * (common/wire.ts) on a frame that breaks a wire limit.
 */
export type SendToNode = (node: string, frame: Frame) => boolean;

/** What one sync sent. */
export interface SyncResult {
  starts: number;
  stops: number;
  held: number;
  /** Pods moved to Failed because their StartPod could not be built or sent. */
  failed: number;
}

/** The dispatcher the allocator drives. */
export interface Dispatcher {
  /** Sends every owed frame not sent within `resendMs`. */
  sync(nowMs: number): SyncResult;
  /**
   * `sync`, pausing between StartPods whenever `slicer` says the slice ran long enough: thousands of
   * newly bound pods then never hold the event loop. Calls must not overlap (the cycle loop's are not).
   */
  syncInSlices(nowMs: number, slicer: Slicer): Promise<SyncResult>;
  /** The node (re)connected: whatever it is owed goes out on the next sync. */
  forgetNode(node: string): void;
  /** A node's full Status: Stopping pods it no longer runs are stopped. */
  onStatus(node: string, status: Status, nowMs: number): LifecycleResult;
}

/** Bound pods read per page by a sync. */
const SYNC_PAGE = 500;

/** Seconds a pod gets between SIGTERM and SIGKILL. */
const GRACE_SECONDS = 10;

/**
 * The StartPod's spec for a pod of `w`, with the registry login its pull secret resolved to (null:
 * none) and the host ports the pod was given (by port name). Without a readiness probe pods count as
 * ready once started: no readiness line is asked for. The pod's CPU and memory requests are also its
 * limits: the scheduler placed it by them, so more would take a neighbour's. Throws Unstartable when
 * the probe's port has no host port.
 */
export function podSpecOf(
  w: WorkloadRecord,
  pullCredential: RegistryCredential | null = null,
  network: Readonly<Record<string, string>> = {},
  hostPorts: Readonly<Record<string, number>> = {},
): WirePodSpec {
  const s = w.spec;
  return {
    workload: w.name,
    project: w.project,
    command: [...s.command],
    env: { ...s.env },
    // Ports, peers and rendezvous (pod-network.ts); a spec's own value wins but for TESSERA_* names.
    networkEnv: { ...network },
    workingDir: s.workingDir ?? null,
    priority: s.priority,
    graceSeconds: GRACE_SECONDS,
    readiness: readinessOf(s, hostPorts),
    rescheduleAfterMs: s.disconnect.kind === 'reschedule' ? s.disconnect.afterMs : null,
    image: s.image ?? null,
    imagePullPolicy: s.image === undefined ? null : (s.imagePullPolicy ?? 'IfNotPresent'),
    pullCredential: s.image === undefined ? null : pullCredential,
    runAsUser: s.runAsUser ?? null,
    runAsGroup: s.runAsGroup ?? null,
    mounts: s.mounts.map((m) => ({ ...m })),
    cpuMillis: s.resources.cpuMillis,
    memoryMiB: s.resources.memoryMiB,
  };
}

/** A pod that cannot be started as its workload stands; the message says why, for its event. */
class Unstartable extends Error {}

/** The readiness the agent applies: the spec's probe on the pod's host port, else ready once started. */
function readinessOf(s: WorkloadSpec, hostPorts: Readonly<Record<string, number>>): WireReadiness {
  const p = s.readinessProbe;
  if (p === undefined) return { linePrefix: null, delayMs: 0, probe: null };
  const port = hostPortOf(hostPorts, p.port);
  if (port === undefined)
    throw new Unstartable(
      `its readiness probe names port ${p.port}, which has no host port on the pod's node; submit the workload again`,
    );
  const { port: _name, ...timing } = p;
  // The delay is for agents from before probes, which skip the probe: they count the pod ready once
  // started, as without one. An agent that knows probes uses the probe alone.
  return { linePrefix: null, delayMs: 0, probe: { ...timing, port } };
}

/**
 * The login `w`'s pull secret holds now, read at every send so a replaced secret is used from the
 * next StartPod on; null when it names none. Throws Unstartable when the secret is gone or no longer
 * logs in to the image's registry: sending the pod without it would only fail later, on the node,
 * with a registry's "unauthorized" instead of this reason.
 */
function pullLoginOf(db: Db, w: WorkloadRecord): RegistryCredential | null {
  const name = w.spec.imagePullSecret;
  const image = w.spec.image;
  if (name === undefined || image === undefined) return null;
  const login = registryCredentialOf(db, w.project, name);
  if (login === undefined)
    throw new Unstartable(
      `its image pull secret ${name} no longer exists in project ${w.project}; create it again (${createSecretHint(w.project, name)}) and submit the workload again`,
    );
  const ref = parseImageRef(image);
  const mismatch = ref.ok ? credentialMismatch(ref.value, image, login.server) : null;
  if (mismatch !== null)
    throw new Unstartable(
      `its image pull secret ${name} no longer fits its image: ${mismatch}; replace the secret with a login for that registry`,
    );
  return login;
}

/** Options of `createDispatcher`; durations in ms. */
export interface DispatcherOptions {
  /** A StartPod or StopPod not yet answered is sent again after this long; default 5000. */
  resendMs?: number;
  /** The link's heartbeat: a Stopping pod missing from a Status two heartbeats after its first StopPod is gone. */
  heartbeatMs: number;
  /** Where a pod that can neither start nor be failed is reported; default none (not logged). */
  log?: Logger;
}

/** The defaults of `DispatcherOptions`, as its fields document them. */
const DISPATCHER_DEFAULTS = { resendMs: 5000 } as const satisfies DefaultsOf<DispatcherOptions>;

/** Creates a dispatcher over `db`, sending with `send`. */
export function createDispatcher(db: Db, send: SendToNode, given: DispatcherOptions): Dispatcher {
  const options = withDefaults(given, DISPATCHER_DEFAULTS);
  const { resendMs } = options;
  // Last send per pod and epoch, by node: `node -> "podId#epoch:start|stop" -> ms`. Rebuilt by each
  // sync from what is still owed, so it never outgrows the pods in flight.
  let sent = new Map<string, Map<string, number>>();
  // First StopPod per pod and epoch: absence is counted from it, not from the latest resend (a resend
  // every resendMs would otherwise keep a slow-heartbeat node's absent pod Stopping for ever).
  let firstStop = new Map<string, number>();
  // Nodes with pods being stopped, from the last sync: a Status from any other node needs no query.
  let stoppingNodes = new Set<string>();

  const due = (node: string, key: string, nowMs: number): boolean => {
    const last = sent.get(node)?.get(key);
    return last === undefined || nowMs - last >= resendMs;
  };
  const mark = (node: string, key: string, nowMs: number): void => {
    let m = sent.get(node);
    if (m === undefined) {
      m = new Map();
      sent.set(node, m);
    }
    m.set(key, nowMs);
  };

  // The one sync, as steps: a pause may come between any two Bound pods.
  function* steps(nowMs: number): Generator<void, SyncResult> {
    const out: SyncResult = { starts: 0, stops: 0, held: 0, failed: 0 };
    const previous = sent;
    const previousFirst = firstStop;
    sent = new Map();
    firstStop = new Map();
    const keep = (node: string, key: string): void => {
      const last = previous.get(node)?.get(key);
      if (last !== undefined) mark(node, key, last);
    };
    const stopping = listPods(db, { phases: ['Stopping'] });
    stoppingNodes = new Set(stopping.flatMap((p) => (p.node === null ? [] : [p.node])));
    const busyGpus = new Set(stopping.flatMap((p) => p.grants.map((g) => `${p.node}|${g.uuid}`)));
    for (const p of stopping) {
      if (p.node === null) continue;
      const podId = wirePodId(p.workload, p.name);
      const key = `${podId}#${p.epoch}:stop`;
      keep(p.node, key);
      const first = previousFirst.get(key);
      if (first !== undefined) firstStop.set(key, first);
      if (!due(p.node, key, nowMs)) continue;
      const frame = makeFrame({
        case: 'stopPod',
        value: { podId, epoch: p.epoch, reason: 'stopped by the allocator', graceSeconds: GRACE_SECONDS },
      });
      if (send(p.node, frame)) {
        mark(p.node, key, nowMs);
        if (!firstStop.has(key)) firstStop.set(key, nowMs);
        out.stops += 1;
      }
    }
    const busyPorts = new Set(
      stopping.flatMap((p) => Object.values(p.ports).map((port) => `${p.node}|${port}`)),
    );
    const workloads = new Map<string, WorkloadRecord | undefined>();
    const gangs = new Map<string, Gang>();
    // A page at a time: thousands of newly bound pods are not read in one go.
    for (let after = 0, more = true; more; ) {
      const page = podsInPhase(db, 'Bound', after, SYNC_PAGE);
      more = page.length === SYNC_PAGE;
      after = page[page.length - 1]?.rowid ?? after;
      for (const { pod: p } of page) {
        yield;
        if (p.node === null) continue;
        if (
          p.grants.some((g) => busyGpus.has(`${p.node}|${g.uuid}`)) ||
          Object.values(p.ports).some((port) => busyPorts.has(`${p.node}|${port}`))
        ) {
          out.held += 1;
          continue;
        }
        const podId = wirePodId(p.workload, p.name);
        const key = `${podId}#${p.epoch}:start`;
        keep(p.node, key);
        if (!due(p.node, key, nowMs)) continue;
        const node = p.node;
        let why: string;
        try {
          if (!workloads.has(p.workload)) workloads.set(p.workload, getWorkload(db, p.workload));
          const w = workloads.get(p.workload);
          if (w === undefined) continue;
          if (!gangs.has(p.workload)) gangs.set(p.workload, gangOf(db, w));
          const network = podNetworkEnv(w, gangs.get(p.workload) as Gang, p.name);
          if (network === null) {
            out.held += 1;
            continue;
          }
          const spec = podSpecOf(w, pullLoginOf(db, w), network, p.ports);
          const frame = makeFrame({
            case: 'startPod',
            value: { podId, epoch: p.epoch, spec, gpuGrants: p.grants.map((g) => ({ ...g })) },
          });
          if (send(node, frame)) {
            mark(node, key, nowMs);
            out.starts += 1;
          }
          continue;
        } catch (e) {
          why = unsendable(e);
        }
        // Resending cannot help: the same stored spec gives the same frame every time.
        try {
          if (failUnstartable(db, p, why, nowMs).changed) out.failed += 1;
        } catch (e) {
          // Not even failing it works (its workload cannot be read): leave it, the rest still go.
          options.log?.error('pod cannot start and cannot be failed', {
            workload: p.workload,
            pod: p.name,
            why,
            error: e instanceof Error ? e.message : String(e),
          });
        }
      }
    }
    return out;
  }

  return {
    sync(nowMs) {
      const it = steps(nowMs);
      for (;;) {
        const r = it.next();
        if (r.done === true) return r.value;
      }
    },

    async syncInSlices(nowMs, slicer) {
      const it = steps(nowMs);
      for (;;) {
        const r = it.next();
        if (r.done === true) return r.value;
        if (slicer.due()) await slicer.pause();
      }
    },

    forgetNode(node) {
      sent.delete(node);
    },

    onStatus(node, status, nowMs) {
      const out: LifecycleResult = { stops: [], changed: false };
      if (!stoppingNodes.has(node)) return out;
      const reported = new Set(
        status.podStates
          .filter((r) => r.state !== 'exited' && r.state !== 'lost')
          .map((r) => `${r.podId}#${r.epoch}`),
      );
      for (const p of listPods(db, { node, phases: ['Stopping'] })) {
        const id = `${wirePodId(p.workload, p.name)}#${p.epoch}`;
        const sentAt = firstStop.get(`${id}:stop`);
        // Absent only counts from a Status the agent composed after it had the StopPod in hand.
        if (reported.has(id) || sentAt === undefined || nowMs - sentAt < 2 * options.heartbeatMs) continue;
        if (!wasReportedEnded(status, id)) {
          const r = confirmAbsent(db, p as PodRecord, nowMs);
          out.changed ||= r.changed;
        }
      }
      return out;
    },
  };
}

/** Why a pod's StartPod could not go out, in words for its workload's event. */
function unsendable(e: unknown): string {
  if (e instanceof Unstartable) return e.message;
  if (e instanceof FrameRefused)
    return `its StartPod breaks a wire limit (${e.error.message}); fix that field and submit the workload again`;
  return `its StartPod cannot be built from the stored spec (${e instanceof Error ? e.message : String(e)})`;
}

/** True when the Status reports this pod ended: the report itself settles it, not absence. */
function wasReportedEnded(status: Status, id: string): boolean {
  return status.podStates.some((r) => `${r.podId}#${r.epoch}` === id);
}
