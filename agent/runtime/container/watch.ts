/**
 * Noticing that containers ended without a process per container: one timer for all of them polls
 * each container's cgroup (`cgroup.events` says `populated 0` once its last process is gone) or,
 * without a cgroup, its main pid; then one `podman inspect` reads the exit code and OOM flag
 * conmon recorded. A `podman wait` per pod would cost a resident podman process each (measured
 * in the README), and the polling costs a file read per pod per interval.
 */

import { isLiveProcess } from '../../runner/proc.ts';
import { cgroupPopulated } from '../cgroup.ts';
import type { RuntimeRef } from '../types.ts';

type ContainerRef = Extract<RuntimeRef, { kind: 'container' }>;

/** True while any process of the container lives. */
export function containerAlive(ref: ContainerRef): boolean {
  if (ref.cgroup !== null) return cgroupPopulated(ref.cgroup);
  return ref.pid > 0 && isLiveProcess(ref.pid, ref.startTimeTicks);
}

/** Calls each watched container's callback once, the first time it is seen dead. */
export class ContainerWatch {
  private readonly watched = new Map<string, { ref: ContainerRef; onGone: () => void }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly alive: (ref: ContainerRef) => boolean = containerAlive,
  ) {}

  /** Watches `ref` until its processes are gone, then calls `onGone` (never twice). */
  add(ref: ContainerRef, onGone: () => void): void {
    this.watched.set(ref.id, { ref, onGone });
    if (this.timer === null) this.timer = setInterval(() => this.poll(), this.intervalMs);
  }

  /** Stops watching `id` (released). */
  remove(id: string): void {
    this.watched.delete(id);
    this.stopIfIdle();
  }

  /** How many containers are watched. */
  get size(): number {
    return this.watched.size;
  }

  private poll(): void {
    for (const [id, w] of this.watched) {
      if (this.alive(w.ref)) continue;
      this.watched.delete(id);
      w.onGone();
    }
    this.stopIfIdle();
  }

  private stopIfIdle(): void {
    if (this.watched.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
