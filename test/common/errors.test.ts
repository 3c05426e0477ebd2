import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ALL_ERROR_CODES,
  ERROR_CODES,
  err,
  errorDocTable,
  formatError,
  httpStatusOf,
  isErrorCode,
  ok,
  type Result,
  tesseraError,
} from '../../common/errors.ts';

describe('error registry', () => {
  it('holds every code the system relies on, each prefixed TESSERA_E_', () => {
    for (const name of [
      'INVALID_SPEC',
      'INVALID_QUANTITY',
      'INVALID_DURATION',
      'ILLEGAL_TRANSITION',
      'NOT_FOUND',
      'CONFLICT',
      'UNAUTHENTICATED',
      'FORBIDDEN',
      'POLICY_VIOLATION',
      'QUOTA_EXCEEDED',
      'INVALID_TRACE',
      'INVALID_SCENARIO',
      'INTERNAL',
    ]) {
      expect(ALL_ERROR_CODES).toContain(`TESSERA_E_${name}`);
    }
    for (const code of ALL_ERROR_CODES) expect(code).toMatch(/^TESSERA_E_[A-Z_]+$/);
  });

  it('maps codes to the HTTP statuses docs/architecture.md §7 names', () => {
    expect(httpStatusOf('TESSERA_E_INVALID_SPEC')).toBe(400);
    expect(httpStatusOf('TESSERA_E_UNAUTHENTICATED')).toBe(401);
    expect(httpStatusOf('TESSERA_E_FORBIDDEN')).toBe(403);
    expect(httpStatusOf('TESSERA_E_NOT_FOUND')).toBe(404);
    expect(httpStatusOf('TESSERA_E_CONFLICT')).toBe(409);
    expect(httpStatusOf('TESSERA_E_POLICY_VIOLATION')).toBe(422);
    expect(httpStatusOf('TESSERA_E_INTERNAL')).toBe(500);
  });

  it('gives every code a one-line how-to-fix', () => {
    for (const code of ALL_ERROR_CODES) {
      const { fix, httpStatus } = ERROR_CODES[code];
      expect(fix.length).toBeGreaterThan(10);
      expect(fix).not.toContain('\n');
      expect(httpStatus).toBeGreaterThanOrEqual(400);
      expect(httpStatus).toBeLessThan(600);
    }
  });

  it('recognises registry codes and nothing else', () => {
    expect(isErrorCode('TESSERA_E_NOT_FOUND')).toBe(true);
    expect(isErrorCode('TESSERA_E_NOPE')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });
});

describe('errorDocTable', () => {
  it('lists every code in the registry with its status and fix', () => {
    const table = errorDocTable();
    for (const code of ALL_ERROR_CODES) {
      const row = table.split('\n').find((line) => line.includes(`\`${code}\``));
      expect(row, code).toBeDefined();
      expect(row).toContain(`| ${ERROR_CODES[code].httpStatus} |`);
      expect(row).toContain(ERROR_CODES[code].fix);
    }
  });

  it('is a markdown table with a header and one row per code', () => {
    const lines = errorDocTable().split('\n');
    expect(lines[0]).toBe('| code | HTTP | how to fix |');
    expect(lines[1]).toBe('|---|---|---|');
    expect(lines).toHaveLength(ALL_ERROR_CODES.length + 2);
    for (const line of lines) expect(line.startsWith('|') && line.endsWith('|')).toBe(true);
  });
});

describe('tesseraError and formatError', () => {
  it('leaves out field and context when not given', () => {
    expect(tesseraError('TESSERA_E_NOT_FOUND', 'workload "x" not found')).toEqual({
      code: 'TESSERA_E_NOT_FOUND',
      message: 'workload "x" not found',
    });
    expect(tesseraError('TESSERA_E_NOT_FOUND', 'm', { field: undefined })).not.toHaveProperty('field');
  });

  it('keeps field and context', () => {
    const e = tesseraError('TESSERA_E_QUOTA_EXCEEDED', 'over limit', {
      field: 'resources.gpuDevices',
      context: { project: 'vision', limitGpu: 4, preemptible: false },
    });
    expect(e.field).toBe('resources.gpuDevices');
    expect(e.context).toEqual({ project: 'vision', limitGpu: 4, preemptible: false });
  });

  it('formats one line with code, message and the registry fix', () => {
    const line = formatError(tesseraError('TESSERA_E_QUOTA_EXCEEDED', 'project vision\nis over its limit'));
    expect(line).not.toContain('\n');
    expect(line).toContain('TESSERA_E_QUOTA_EXCEEDED: project vision is over its limit');
    expect(line).toContain(`how to fix: ${ERROR_CODES.TESSERA_E_QUOTA_EXCEEDED.fix}`);
  });

  it('names the field when the message does not already', () => {
    expect(formatError(tesseraError('TESSERA_E_INVALID_SPEC', 'bad', { field: 'replicas' }))).toContain(
      '(field replicas)',
    );
    expect(
      formatError(tesseraError('TESSERA_E_INVALID_SPEC', 'replicas: bad', { field: 'replicas' })),
    ).not.toContain('(field');
  });
});

describe('Result helpers', () => {
  it('ok and err build the two arms and narrow on .ok', () => {
    const results: Result<number>[] = [ok(3), err(tesseraError('TESSERA_E_INTERNAL', 'boom'))];
    const seen = results.map((r) => (r.ok ? `value ${r.value}` : `error ${r.error.code}`));
    expect(seen).toEqual(['value 3', 'error TESSERA_E_INTERNAL']);
  });
});

describe('README', () => {
  it('documents every error code exactly as the registry says', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(errorDocTable());
  });
});
