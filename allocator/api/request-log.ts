/**
 * Request ids and request logging. Every response names its request in `x-request-id`, the id its
 * log lines carry (a 500's body repeats it, errors.ts). Each request is one line at debug, not
 * fastify's two at info: a busy cluster's requests would drown the log.
 */
import { type FastifyInstance, type FastifyReply, type FastifyRequest, LogController } from 'fastify';

/** The response header naming the request. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** The key of the request id on log lines, as a 500's body names it. */
export const REQUEST_ID_LOG_KEY = 'requestId';

/** fastify's request logging, at debug and one line per request. */
export class DebugRequestLog extends LogController {
  constructor() {
    super({ requestIdLogLabel: REQUEST_ID_LOG_KEY });
  }

  override incomingRequest(): void {}

  override requestCompleted(
    error: Error | null | undefined,
    request: FastifyRequest,
    reply: FastifyReply,
  ): void {
    const fields = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
    };
    // The response stream failed after the handler was done: the client went away mid-answer, most
    // likely; worth a line, not an alarm (a handler's own failure is logged by errors.ts).
    if (error) request.log.warn({ ...fields, err: error }, 'response not completed');
    else request.log.debug(fields, 'request');
  }
}

/** Sets `x-request-id` on every response that runs the request hooks. */
export function installRequestIdHeader(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
  });
}
