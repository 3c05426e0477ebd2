/**
 * The API's one error shape, `{"error": {code, message, field?}}` with the registry's HTTP status
 * (docs/architecture.md §7): route code throws `ApiError`, the store's `Result`s are unwrapped into it, zod
 * issues name their field, and fastify's own failures (bad JSON, unknown route) are mapped here. A 500
 * also carries its request id, under which the log holds its stack.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import {
  type ErrorCode,
  httpStatusOf,
  type Result,
  type TesseraError,
  tesseraError,
} from '../../common/errors.ts';
import { MAX_SPEC_BYTES } from '../../common/workload.ts';
import { StoreError } from '../store/errors.ts';
import { REQUEST_ID_HEADER } from './request-log.ts';

/**
 * Largest request body the API reads (fastify's own default, written out): well above
 * MAX_SPEC_BYTES so an oversized spec is refused by the validator with its size and the field to
 * blame, and small enough that no body costs the allocator much to read.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A `TesseraError` thrown from a handler; the error handler answers it as is. */
export class ApiError extends Error {
  readonly error: TesseraError;
  /** `cause`: what went wrong underneath, whose stack the log keeps for a 500. */
  constructor(error: TesseraError, cause?: unknown) {
    super(error.message, cause === undefined ? undefined : { cause });
    this.name = 'ApiError';
    this.error = error;
  }
}

/**
 * Fails the request: throws an `ApiError` with `code`, `message` and optionally the offending `field`,
 * which the error handler answers (the store's `fail` aborts a transaction instead).
 */
export function failRequest(code: ErrorCode, message: string, field?: string): never {
  throw new ApiError(tesseraError(code, message, { field }));
}

/** The value of an ok `Result`, or its error thrown as an `ApiError`. */
export function unwrap<T>(r: Result<T>): T {
  if (!r.ok) throw new ApiError(r.error);
  return r.value;
}

/** Validates untrusted input with `schema`; the first issue becomes a 400 naming its field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  if (issue === undefined) failRequest('TESSERA_E_INVALID_SPEC', `${what}: invalid`);
  let path = issue.path.map(String).join('.');
  // An unknown key is reported at its parent; the key itself is the field the user must fix.
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    path = path === '' ? key : `${path}.${key}`;
  }
  const where = path === '' ? what : `${what} field ${path}`;
  failRequest('TESSERA_E_INVALID_SPEC', `${where}: ${issue.message}`, path === '' ? undefined : path);
}

/** What an error response's `error` holds. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  field?: string;
  /** On a 500 only: the request's id, which its log line carries too. */
  requestId?: string;
}

/** The JSON body every error response carries; `context` stays in logs, not on the wire. */
export function errorBody(e: TesseraError): { error: ErrorBody } {
  const body: ErrorBody = { code: e.code, message: e.message };
  if (e.field !== undefined) body.field = e.field;
  return { error: body };
}

/** Answers `e` with its registry status. */
export function sendError(reply: FastifyReply, e: TesseraError): FastifyReply {
  return reply.code(httpStatusOf(e.code)).send(errorBody(e));
}

/** fastify's error codes for a request body it could not read, with what the user should send. */
const BODY_ERRORS: Readonly<Record<string, string>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'the request body is not valid JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'the request says Content-Type application/json but its body is empty',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'send the request body as application/json',
  FST_ERR_CTP_BODY_TOO_LARGE: `the request body is larger than the server accepts (${MAX_BODY_BYTES / 1024 / 1024} MiB; a workload spec may be at most ${MAX_SPEC_BYTES / 1024} KiB)`,
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'the request body does not match its Content-Length',
};

function fromUnknown(e: unknown): TesseraError {
  if (e instanceof ApiError || e instanceof StoreError) return e.error;
  const code = typeof e === 'object' && e !== null && 'code' in e ? String(e.code) : '';
  const message = e instanceof Error ? e.message : String(e);
  const status =
    typeof e === 'object' && e !== null && 'statusCode' in e && typeof e.statusCode === 'number'
      ? e.statusCode
      : 500;
  const known = BODY_ERRORS[code];
  if (known !== undefined) return tesseraError('TESSERA_E_INVALID_SPEC', `${known} (${message})`);
  if (status === 404) return tesseraError('TESSERA_E_NOT_FOUND', message);
  // Any other 4xx fastify raises is about the request as sent; the registry answers those 400.
  if (status >= 400 && status < 500) return tesseraError('TESSERA_E_INVALID_SPEC', `${message} (${code})`);
  return tesseraError('TESSERA_E_INTERNAL', message);
}

/**
 * Answers a 500: our bug. The log line keeps the stack, the user gets only the message, and both
 * carry the request id, so the id in a bug report finds its stack in the log.
 */
export function sendInternalError(
  request: FastifyRequest,
  reply: FastifyReply,
  e: TesseraError,
  thrown: unknown,
): FastifyReply {
  // The request's logger is bound to its id already (index.ts sets the label to `requestId`).
  request.log.error(
    { method: request.method, url: request.url, err: thrown },
    `request failed: ${e.message}`,
  );
  const body = errorBody({ ...e, message: `${e.message} (request id ${request.id})` });
  body.error.requestId = request.id;
  return reply.code(httpStatusOf(e.code)).send(body);
}

/** Answers anything a handler threw (or fastify raised) in the one shape. */
export function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  // Set here as well as in the request hook: fastify answers a URL it cannot route without hooks.
  reply.header(REQUEST_ID_HEADER, request.id);
  const e = fromUnknown(error);
  if (e.code === 'TESSERA_E_INTERNAL') return sendInternalError(request, reply, e, error);
  return sendError(reply, e);
}

/** Installs the error and not-found handlers so every failure leaves in the one shape. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      tesseraError(
        'TESSERA_E_NOT_FOUND',
        `no route ${request.method} ${request.url}; the API lives under /api/v1 (plus /healthz and /readyz)`,
      ),
    ),
  );
}
