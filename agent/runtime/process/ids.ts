/**
 * Which uid and gid each pod of the process runtime runs as: one pair per live pod out of a
 * configured range, so two pods can read neither each other's files nor /proc/<pid>/environ (the
 * kernel lets only the same uid, or root, read another process's environment). Pure.
 */
import { err, ok, type Result, tesseraError } from '../../../common/errors.ts';

/** An inclusive range of ids, e.g. `200000-265535`; a pod's gid is its uid. */
export interface IdRange {
  first: number;
  last: number;
}

/** The default `--pod-uid-range`: above the ids distributions hand out, inside a 65536-id block. */
export const DEFAULT_POD_UID_RANGE: IdRange = { first: 200_000, last: 265_535 };

/** Parses `first-last` (both inclusive, first >= 1000, so no system account is ever reused). */
export function parseIdRange(text: string): Result<IdRange> {
  const m = /^(\d+)-(\d+)$/.exec(text.trim());
  const first = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (
    m === null ||
    !Number.isSafeInteger(first) ||
    !Number.isSafeInteger(last) ||
    first < 1000 ||
    last < first ||
    last > 4_294_967_294
  ) {
    return err(
      tesseraError(
        'TESSERA_E_INVALID_CONFIG',
        `pod uid range ${JSON.stringify(text)} is not FIRST-LAST with 1000 <= FIRST <= LAST`,
        {
          field: 'pod-uid-range',
        },
      ),
    );
  }
  return ok({ first, last });
}

/** Hands out ids of a range, each to one pod at a time. */
export interface IdAllocator {
  /** A free id, now taken; an error when every id of the range is in use. */
  take(): Result<number>;
  /** Marks `id` taken (a pod adopted after an agent restart). */
  claim(id: number): void;
  release(id: number): void;
  inUse(): number[];
}

/**
 * An allocator over `range`. It goes round the range rather than taking the lowest free id: a pod's
 * files outside its own dir (in /tmp, /dev/shm) outlive it, owned by its uid, so a uid given back is
 * handed out again as late as possible.
 */
export function createIdAllocator(range: IdRange): IdAllocator {
  const used = new Set<number>();
  const size = range.last - range.first + 1;
  let next = range.first;
  return {
    take() {
      for (let i = 0; i < size; i++) {
        const id = range.first + ((next - range.first + i) % size);
        if (!used.has(id)) {
          used.add(id);
          next = id === range.last ? range.first : id + 1;
          return ok(id);
        }
      }
      return err(
        tesseraError(
          'TESSERA_E_INTERNAL',
          `every pod uid of ${range.first}-${range.last} is in use; widen --pod-uid-range`,
          {
            context: { first: range.first, last: range.last },
          },
        ),
      );
    },
    claim: (id) => void used.add(id),
    release: (id) => void used.delete(id),
    inUse: () => [...used].sort((a, b) => a - b),
  };
}
