/**
 * How the workload spec validator words its errors: one INVALID_SPEC message per problem that names
 * the field as a dotted path, says why, and ends with what the field accepts. `workload.ts` owns the
 * tables (what each field accepts, hints for fields people misspell, the schema's shapes) and hands
 * them to `specMessages`; this file owns only the wording, so the tables can live beside the schema.
 */
import type { z } from 'zod';
import { type TesseraError, tesseraError } from './errors.ts';

/** The tables the messages are built from. */
export interface SpecMessageTables {
  /** What each field accepts, keyed by dotted path with array indices as '*'. */
  help: Readonly<Record<string, string>>;
  /** Extra advice for unknown fields people reach for. */
  hints: Readonly<Record<string, string>>;
  /** The fields accepted inside the object at `path` ('' for the spec itself). */
  fieldsAt: (path: string) => readonly string[];
}

/** What `specMessages` builds: an error for a field, and one for zod's first issue. */
export interface SpecMessages {
  /** An INVALID_SPEC error for `field`, ending with what the field accepts unless `help` is null. */
  specError(field: string, why: string, help?: string | null): TesseraError;
  /** zod's issue as one message that names the field, says why and what is accepted. */
  fromIssue(issue: z.core.$ZodIssue): TesseraError;
}

/** zod's type names, as a sentence says them. */
const EXPECTED_NAMES: Readonly<Record<string, string>> = {
  int: 'a whole number',
  array: 'an array',
  object: 'an object',
  record: 'an object',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
};

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return JSON.stringify(v);
  return `${typeof v} ${String(v)}`;
}

/** The spec validator's message builders over `tables`. */
export function specMessages(tables: SpecMessageTables): SpecMessages {
  const helpFor = (path: string): string | undefined =>
    // env keys are user-chosen names, so any `env.X` falls back to the help for an env value.
    tables.help[path] ??
    tables.help[path.replace(/\.\d+(?=\.|$)/g, '.*')] ??
    tables.help[path.replace(/^env\..*$/, 'env.*')];

  const specError = (field: string, why: string, help: string | null | undefined = helpFor(field)) => {
    const where = field === '' ? 'workload spec' : field;
    const accepted = help === undefined || help === null ? '' : `; accepted: ${help}`;
    return tesseraError('TESSERA_E_INVALID_SPEC', `${where}: ${why}${accepted}`, {
      field: field === '' ? undefined : field,
    });
  };

  const fromIssue = (issue: z.core.$ZodIssue): TesseraError => {
    const path = issue.path.map(String).join('.');
    const missing = !('input' in issue) || issue.input === undefined;
    switch (issue.code) {
      case 'unrecognized_keys': {
        const key = issue.keys[0] ?? '';
        const field = path === '' ? key : `${path}.${key}`;
        const hint = tables.hints[key];
        const why = `unknown field${hint === undefined ? '' : ` (${hint})`}; fields accepted here: ${tables.fieldsAt(path).join(', ')}`;
        return tesseraError('TESSERA_E_INVALID_SPEC', `${field}: ${why}`, { field });
      }
      case 'invalid_type':
        if (missing) return specError(path, 'required');
        return specError(
          path,
          `expected ${EXPECTED_NAMES[issue.expected] ?? `a ${issue.expected}`}, got ${describeValue(issue.input)}`,
        );
      case 'invalid_union':
      case 'invalid_value':
        return specError(path, missing ? 'required' : `got ${describeValue(issue.input)}`);
      case 'too_small': {
        const min = Number(issue.minimum);
        if (issue.origin === 'string') return specError(path, 'must not be empty');
        if (issue.origin === 'array')
          return specError(path, `must have at least ${min} item${min === 1 ? '' : 's'}`);
        return specError(
          path,
          `must be ${issue.inclusive === false ? '>' : '>='} ${min}, got ${describeValue(issue.input)}`,
        );
      }
      case 'too_big': {
        const max = Number(issue.maximum);
        if (issue.origin === 'string') return specError(path, `longer than ${max} characters`);
        if (issue.origin === 'array' && Array.isArray(issue.input))
          return specError(path, `has ${issue.input.length} items, over the limit of ${max}`);
        return specError(path, `must be <= ${max}, got ${describeValue(issue.input)}`);
      }
      case 'invalid_format':
        return specError(path, `${describeValue(issue.input)} is not in the accepted form`);
      default:
        return specError(path, issue.message);
    }
  };

  return { specError, fromIssue };
}
