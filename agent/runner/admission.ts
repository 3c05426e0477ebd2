/**
 * Whether the runner may start a pod now, decided before anything runs: a valid pod id, epoch and
 * command, and fencing (an older epoch than one seen, a duplicate, a new epoch over a running one,
 * a rerun of an ended one are refused). Also the error values the runner answers with.
 */
import { err, type Result, tesseraError } from '../../common/errors.ts';
import { isEnded } from './lifecycle.ts';
import type { PodTable } from './pods.ts';
import type { PodSpec } from './types.ts';

const POD_ID_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

/** A spec the runner refuses, naming the field. */
export function invalid(podId: string, field: string, message: string): Result<never> {
  return err(
    tesseraError('TESSERA_E_INVALID_SPEC', `pod ${podId}: ${message}`, { field, context: { podId } }),
  );
}

/** A request that conflicts with what runs (fencing, state). */
export function conflict(podId: string, message: string, context: Record<string, number>): Result<never> {
  return err(
    tesseraError('TESSERA_E_CONFLICT', `pod ${podId}: ${message}`, { context: { podId, ...context } }),
  );
}

/** A pod this runner does not know. */
export function notFound(podId: string): Result<never> {
  return err(
    tesseraError('TESSERA_E_NOT_FOUND', `pod ${podId} is not known to this node's runner`, {
      context: { podId },
    }),
  );
}

/** Why `spec` may not start now (bad id, epoch or command; fencing), or null. */
export function refusal(spec: PodSpec, table: PodTable): Result<never> | null {
  if (!POD_ID_RE.test(spec.podId)) {
    return invalid(spec.podId, 'podId', 'pod id must be 1-253 of [A-Za-z0-9._-], not starting with . _ or -');
  }
  if (!Number.isSafeInteger(spec.epoch) || spec.epoch < 0) {
    return invalid(spec.podId, 'epoch', `epoch must be a non-negative integer, got ${spec.epoch}`);
  }
  if (spec.command.length === 0 || spec.command[0] === '') {
    return invalid(spec.podId, 'command', 'command is empty');
  }
  const running = table.get(spec.podId);
  if (running !== undefined && !isEnded(running.status.state)) {
    const ctx = { epoch: spec.epoch, runningEpoch: running.spec.epoch };
    if (spec.epoch < running.spec.epoch) {
      return conflict(
        spec.podId,
        `refused epoch ${spec.epoch}: epoch ${running.spec.epoch} runs here (fencing: a stale assignment must not run)`,
        ctx,
      );
    }
    if (spec.epoch === running.spec.epoch) {
      return conflict(spec.podId, `epoch ${spec.epoch} is already running (pid ${running.status.pid})`, ctx);
    }
    return conflict(
      spec.podId,
      `epoch ${running.spec.epoch} still runs; stop it before starting epoch ${spec.epoch}`,
      ctx,
    );
  }
  const seen = table.epochOf(spec.podId);
  if (seen !== undefined && spec.epoch < seen) {
    return conflict(
      spec.podId,
      `refused epoch ${spec.epoch}: epoch ${seen} was already seen on this node (fencing: a stale assignment must not run)`,
      { epoch: spec.epoch, seenEpoch: seen },
    );
  }
  if (seen !== undefined && spec.epoch === seen) {
    return conflict(spec.podId, `epoch ${spec.epoch} already ran here and ended; a pod never runs twice`, {
      epoch: spec.epoch,
    });
  }
  return null;
}
