/** The actions of a cycle, in the order a cycle runs them (docs/architecture.md §3). */
import { allocate } from './allocate.ts';
import { consolidate } from './consolidate.ts';
import { elastic } from './elastic.ts';
import { preempt } from './preempt.ts';
import { reclaim } from './reclaim.ts';
import { staleGang } from './stale-gang.ts';
import type { Action } from './types.ts';

export type { Action } from './types.ts';

/** allocate, consolidate, reclaim, preempt, elastic, stale-gang. */
export const ACTIONS: readonly Action[] = [allocate, consolidate, reclaim, preempt, elastic, staleGang];
