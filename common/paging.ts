/**
 * The paged-list contract between the allocator's list routes (allocator/api/paging.ts) and the
 * client (cli/client/http.ts). Here rather than in the API module so the CLI does not load the
 * server's modules (fastify and its tree) to learn a header name.
 */

/** The response header that carries the token of the next page; absent on the last page. */
export const CONTINUE_HEADER = 'tessera-continue';
