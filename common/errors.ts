/**
 * The one registry of Tessera error codes, each with its HTTP status and a one-line "how to fix",
 * plus the `Result` type every validator returns. The README embeds `errorDocTable()`, and a test
 * keeps the two in step, so a code added here is documented the day it exists.
 */

/** What the registry knows about one code. */
export interface ErrorCodeInfo {
  readonly httpStatus: number;
  readonly fix: string;
}

/** Every error code Tessera emits, with the HTTP status the API answers and how a user fixes it. */
export const ERROR_CODES = {
  TESSERA_E_INVALID_SPEC: {
    httpStatus: 400,
    fix: 'Correct the field named in the message; the message says what that field accepts.',
  },
  TESSERA_E_INVALID_QUANTITY: {
    httpStatus: 400,
    fix: "Write GPUs as '0.5', '2' or '500m', CPU as '2' or '500m', memory as '20GiB', '512Mi' or a number of MiB.",
  },
  TESSERA_E_INVALID_DURATION: {
    httpStatus: 400,
    fix: "Write durations as '250ms', '40s', '5m', '1h', '1h30m' or a whole number of milliseconds.",
  },
  TESSERA_E_ILLEGAL_TRANSITION: {
    httpStatus: 409,
    fix: 'Check the current phase with `tessera describe`; the message lists the phases reachable from it.',
  },
  TESSERA_E_NOT_FOUND: {
    httpStatus: 404,
    fix: 'Check the name or id and its project with `tessera list`.',
  },
  TESSERA_E_CONFLICT: {
    httpStatus: 409,
    fix: 'Something with that name already exists or changed meanwhile; pick another name or re-read and retry.',
  },
  TESSERA_E_UNAUTHENTICATED: {
    httpStatus: 401,
    fix: 'Pass a valid token with --token, TESSERA_TOKEN or ~/.config/tessera/config.json.',
  },
  TESSERA_E_FORBIDDEN: {
    httpStatus: 403,
    fix: 'Ask an admin for an access rule granting a role on this scope, or act in a project you belong to.',
  },
  TESSERA_E_POLICY_VIOLATION: {
    httpStatus: 422,
    fix: "Keep the field within the policy's min / max / options shown in the message, or ask an admin to change the policy.",
  },
  TESSERA_E_QUOTA_EXCEEDED: {
    httpStatus: 422,
    fix: "Request less, stop a workload in the project, or ask an admin to raise the project's or department's limit.",
  },
  TESSERA_E_INVALID_TRACE: {
    httpStatus: 400,
    fix: 'Fix the CSV row named in the message (file and line); the message names the column and what it accepts.',
  },
  TESSERA_E_INVALID_SCENARIO: {
    httpStatus: 400,
    fix: 'Fix the scenario field named in the message; the message says what that field accepts.',
  },
  TESSERA_E_INVALID_CONFIG: {
    httpStatus: 400,
    fix: 'Fix or remove the setting named in the message (flag, TESSERA_URL / TESSERA_TOKEN / TESSERA_CA, or ~/.config/tessera/config.json).',
  },
  TESSERA_E_GPU_DRIVER: {
    httpStatus: 503,
    fix: 'Check the tool the message names (nvidia-smi, cuda-checkpoint) on the node: install or repair the NVIDIA driver, or run the agent with --gpu sim.',
  },
  TESSERA_E_BAD_FRAME: {
    httpStatus: 400,
    fix: 'Run the same Tessera release on the allocator and every agent; the message names the frame field and the limit it broke.',
  },
  TESSERA_E_UNAVAILABLE: {
    httpStatus: 503,
    fix: 'Start the allocator (`tessera up` or `tessera allocator`), or point --url / TESSERA_URL at a running one; for a certificate this client does not trust, pass --ca / TESSERA_CA naming the CA that signed it. The message names the URL tried.',
  },
  TESSERA_E_TOO_MANY_STREAMS: {
    httpStatus: 429,
    fix: 'End one of your open log follows (Ctrl-C a `tessera logs -f`) and try again; the message says how many are open and the most allowed.',
  },
  TESSERA_E_NODE_UNAVAILABLE: {
    httpStatus: 409,
    fix: "The pod's node could not serve this: not connected, not answering, or failing to read the log (the message says which). Check it with `tessera node list` and its agent's log; the logs stay on the node until it can.",
  },
  TESSERA_E_NO_REPLICA: {
    httpStatus: 503,
    fix: 'The served workload has no ready replica yet (starting, scaled to zero and cold-starting, or stopped): retry after the Retry-After seconds; `tessera describe WORKLOAD` shows its pods.',
  },
  TESSERA_E_INTERNAL: {
    httpStatus: 500,
    fix: 'This is a bug in Tessera: report it with the message and the allocator log around that time.',
  },
} as const satisfies Record<`TESSERA_E_${string}`, ErrorCodeInfo>;

/** A code in the registry, e.g. `TESSERA_E_QUOTA_EXCEEDED`. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** Context values stay primitive so an error serialises to JSON and a log line unchanged. */
export type ErrorContext = Record<string, string | number | boolean>;

/** An error a user can act on: what went wrong, where (field) and with which values (context). */
export interface TesseraError {
  code: ErrorCode;
  message: string;
  field?: string;
  context?: ErrorContext;
}

/** The success arm of `Result`. */
export interface Ok<T> {
  ok: true;
  value: T;
}

/** The failure arm of `Result`. */
export interface Err {
  ok: false;
  error: TesseraError;
}

/** Validators and parsers return this instead of throwing, so callers must look at the error. */
export type Result<T> = Ok<T> | Err;

/** Every code in the registry, in declaration order. */
export const ALL_ERROR_CODES: readonly ErrorCode[] = Object.keys(ERROR_CODES) as ErrorCode[];

/** Builds a `TesseraError`, leaving out `field` / `context` when not given. */
export function tesseraError(
  code: ErrorCode,
  message: string,
  extra?: { field?: string | undefined; context?: ErrorContext | undefined },
): TesseraError {
  const e: TesseraError = { code, message };
  if (extra?.field !== undefined) e.field = extra.field;
  if (extra?.context !== undefined) e.context = extra.context;
  return e;
}

/** Wraps a value as a successful `Result`. */
export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

/** Wraps an error as a failed `Result`. */
export function err(error: TesseraError): Err {
  return { ok: false, error };
}

/** True when `s` is a code in the registry (for errors read back from the wire). */
export function isErrorCode(s: string): s is ErrorCode {
  return Object.hasOwn(ERROR_CODES, s);
}

/** The HTTP status the API answers for `code`. */
export function httpStatusOf(code: ErrorCode): number {
  return ERROR_CODES[code].httpStatus;
}

/** One line for a terminal or log: code, message, field, and the registry's how-to-fix. */
export function formatError(e: TesseraError): string {
  const field = e.field !== undefined && !e.message.includes(e.field) ? ` (field ${e.field})` : '';
  // Messages are meant to be one line; collapse any stray newline so a log line stays one line.
  const message = `${e.message}${field}`.replace(/\s*\n\s*/g, ' ');
  return `${e.code}: ${message} — how to fix: ${ERROR_CODES[e.code].fix}`;
}

/** The markdown table (code | HTTP | how to fix) that the README embeds. */
export function errorDocTable(): string {
  const rows = ALL_ERROR_CODES.map((code) => {
    const { httpStatus, fix } = ERROR_CODES[code];
    // A '|' inside a cell would end it early in markdown.
    return `| \`${code}\` | ${httpStatus} | ${fix.replaceAll('|', '\\|')} |`;
  });
  return ['| code | HTTP | how to fix |', '|---|---|---|', ...rows].join('\n');
}
