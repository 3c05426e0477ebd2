/**
 * Noticing that containers ended without a process per container. Where the container has a v2
 * cgroup, inotify on its `cgroup.events` (one fd, no process) says the moment `populated` drops to
 * 0; one timer for all containers polls as well (no v2 cgroup, or a missed event). Then one
 * `podman inspect` reads the exit code conmon recorded.
 *
 * The OOM count is read here, at the moment the cgroup empties: on a hybrid host podman 4.3 reports
 * `OOMKilled: false` for a container its v1 memory limit killed (measured: exit 137, oom=false,
 * while the container's `memory.oom_control` said `oom_kill 1`), and `podman container cleanup`
 * removes that cgroup a podman start-up later, so the count must be taken before.
 */
import { type FSWatcher, watch } from 'node:fs';
import { join } from 'node:path';
import { isLiveProcess } from '../../runner/proc.ts';
import { cgroupPopulated, oomKills } from '../cgroup.ts';
import type { RuntimeRef } from '../types.ts';

type ContainerRef = Extract<RuntimeRef, { kind: 'container' }>;

/** True while any process of the container lives. */
export function containerAlive(ref: ContainerRef): boolean {
  if (ref.cgroup !== null) return cgroupPopulated(ref.cgroup);
  return ref.pid > 0 && isLiveProcess(ref.pid, ref.startTimeTicks);
}

/** What the watch saw as the container's processes went. */
export interface Gone {
  /** OOM kills in the container's cgroup, read before podman removes it. */
  oomKills: number;
}

interface Watched {
  ref: ContainerRef;
  onGone: (g: Gone) => void;
  inotify: FSWatcher | null;
  oomKills: number;
}

/** Calls each watched container's callback once, the first time it is seen dead. */
export class ContainerWatch {
  private readonly watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly intervalMs: number,
    private readonly alive: (ref: ContainerRef) => boolean = containerAlive,
  ) {}

  /** Watches `ref` until its processes are gone, then calls `onGone` (never twice). */
  add(ref: ContainerRef, onGone: (g: Gone) => void): void {
    const w: Watched = { ref, onGone, inotify: null, oomKills: 0 };
    this.watched.set(ref.id, w);
    if (ref.cgroup?.unified != null) {
      try {
        w.inotify = watch(join(ref.cgroup.unified, 'cgroup.events'), () => this.check(ref.id));
        w.inotify.on('error', () => {
          // The cgroup went away under the watch: the poll sees the end.
        });
      } catch {
        // No inotify here: the poll alone.
      }
    }
    if (this.timer === null) this.timer = setInterval(() => this.poll(), this.intervalMs);
    // It may have ended before the watch began.
    this.check(ref.id);
  }

  /** Stops watching `id` (released). */
  remove(id: string): void {
    this.watched.get(id)?.inotify?.close();
    this.watched.delete(id);
    this.stopIfIdle();
  }

  /** How many containers are watched. */
  get size(): number {
    return this.watched.size;
  }

  private check(id: string): void {
    const w = this.watched.get(id);
    if (w === undefined) return;
    if (w.ref.cgroup !== null) w.oomKills = Math.max(w.oomKills, oomKills(w.ref.cgroup));
    if (this.alive(w.ref)) return;
    w.inotify?.close();
    this.watched.delete(id);
    this.stopIfIdle();
    w.onGone({ oomKills: w.oomKills });
  }

  private poll(): void {
    for (const id of [...this.watched.keys()]) this.check(id);
  }

  private stopIfIdle(): void {
    if (this.watched.size === 0 && this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }
}
