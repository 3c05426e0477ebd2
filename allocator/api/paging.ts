/**
 * Paging of list routes, as Kubernetes lists page: `?limit=N` (default DEFAULT_PAGE_LIMIT, at most
 * MAX_PAGE_LIMIT) answers at most N rows; while more remain, the `Tessera-Continue` response header
 * carries an opaque token, and `?continue=TOKEN` answers the rows after it. The body stays the bare
 * array it always was, so a client that never pages still reads the first page as before. A page
 * may hold fewer than `limit` rows once rows the caller may not read are dropped (auth.ts); only
 * a missing header means the list is done.
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { CONTINUE_HEADER } from '../../common/paging.ts';
import { failRequest } from './errors.ts';

/** Rows a list answers when the request names no limit. */
export const DEFAULT_PAGE_LIMIT = 500;

/** The largest `limit` a list accepts: one page's rows (and their specs) are held in memory at once. */
export const MAX_PAGE_LIMIT = 1000;

/** The query fields of a paged route, to spread into its own query schema. */
export const PAGE_QUERY = {
  limit: z.coerce.number().int().min(1).max(MAX_PAGE_LIMIT).optional(),
  continue: z.string().optional(),
};

/** What a paged route reads: how many rows, and the position after which they start (null: the start). */
export interface PageRequest {
  limit: number;
  after: readonly number[] | null;
}

const BAD_TOKEN =
  'is not a token this server gave out for this list (a token is valid for the list that answered it); start again without continue';

/**
 * The page a query asks for. A token is the base64url of the JSON array of `width` whole numbers
 * that name the last row of the previous page; anything else is a 400 naming `continue`.
 */
export function pageRequest(
  q: { limit?: number | undefined; continue?: string | undefined },
  width: number,
): PageRequest {
  const limit = q.limit ?? DEFAULT_PAGE_LIMIT;
  if (q.continue === undefined) return { limit, after: null };
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(q.continue, 'base64url').toString('utf8'));
  } catch {
    decoded = null;
  }
  const valid =
    Array.isArray(decoded) &&
    decoded.length === width &&
    decoded.every((x) => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0);
  if (!valid) failRequest('TESSERA_E_INVALID_SPEC', `continue: ${BAD_TOKEN}`, 'continue');
  return { limit, after: decoded as number[] };
}

/** Sets the continue header when another page follows `next` (the last row's position), and answers `rows`. */
export function sendPage<T>(reply: FastifyReply, rows: T[], next: readonly number[] | null): T[] {
  if (next !== null) reply.header(CONTINUE_HEADER, Buffer.from(JSON.stringify(next)).toString('base64url'));
  return rows;
}
