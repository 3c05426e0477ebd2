/**
 * The API's one error shape, `{"error": {code, message, field?}}` with the registry's HTTP status
 * (docs/architecture.md §7): route code throws `ApiError`, the store's `Result`s are unwrapped into it, zod
 * issues name their field, and fastify's own failures (bad JSON, unknown route) are mapped here.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
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

/**
 * Largest request body the API reads (fastify's own default, written out): well above
 * MAX_SPEC_BYTES so an oversized spec is refused by the validator with its size and the field to
 * blame, and small enough that no body costs the allocator much to read.
 */
export const MAX_BODY_BYTES = 1024 * 1024;

/** A `TesseraError` thrown from a handler; the error handler answers it as is. */
export class ApiError extends Error {
  readonly error: TesseraError;
  constructor(error: TesseraError) {
    super(error.message);
    this.name = 'ApiError';
    this.error = error;
  }
}

/** Throws an `ApiError` with `code`, `message` and optionally the offending `field`. */
export function fail(code: ErrorCode, message: string, field?: string): never {
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
  if (issue === undefined) fail('TESSERA_E_INVALID_SPEC', `${what}: invalid`);
  let path = issue.path.map(String).join('.');
  // An unknown key is reported at its parent; the key itself is the field the user must fix.
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    path = path === '' ? key : `${path}.${key}`;
  }
  const where = path === '' ? what : `${what} field ${path}`;
  fail('TESSERA_E_INVALID_SPEC', `${where}: ${issue.message}`, path === '' ? undefined : path);
}

/** The JSON body every error response carries; `context` stays in logs, not on the wire. */
export function errorBody(e: TesseraError): { error: { code: ErrorCode; message: string; field?: string } } {
  const body: { code: ErrorCode; message: string; field?: string } = { code: e.code, message: e.message };
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

/** Installs the error and not-found handlers so every failure leaves in the one shape. */
export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request, reply) => {
    const e = fromUnknown(error);
    // A 500 is our bug: keep the stack in the log, send the user only the message.
    if (e.code === 'TESSERA_E_INTERNAL') request.log.error({ err: error }, 'request failed');
    return sendError(reply, e);
  });
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
