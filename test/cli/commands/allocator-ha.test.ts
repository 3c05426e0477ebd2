import { describe, expect, it } from 'vitest';
import { parseHaFlags } from '../../../cli/commands/allocator.ts';
import { CliError } from '../../../cli/errors.ts';

describe('tessera allocator --store, --advertise-url, --leader-lease', () => {
  it('takes the store from the flag, else TESSERA_STORE; none means SQLite in --data', () => {
    expect(parseHaFlags({}, {})).toEqual({});
    expect(parseHaFlags({}, { TESSERA_STORE: 'postgres://u:p@db/t' })).toEqual({
      store: 'postgres://u:p@db/t',
    });
    expect(parseHaFlags({ store: 'postgresql://db/x' }, { TESSERA_STORE: 'postgres://other/y' })).toEqual({
      store: 'postgresql://db/x',
    });
    expect(parseHaFlags({}, { TESSERA_STORE: '' })).toEqual({});
  });

  it('normalises the advertised URL and the leader lease', () => {
    expect(parseHaFlags({ advertiseUrl: 'https://alloc-1:7400/', leaderLease: '10s' }, {})).toEqual({
      advertiseUrl: 'https://alloc-1:7400',
      leaderLeaseMs: 10_000,
    });
  });

  it('refuses a store that is no database URL (without echoing its password), a bad URL, a too short lease', () => {
    const refused = (f: Parameters<typeof parseHaFlags>[0]) => {
      try {
        parseHaFlags(f, {});
      } catch (e) {
        if (e instanceof CliError) return e.message;
        throw e;
      }
      return null;
    };
    const store = refused({ store: 'mysql://u:secret@db/t' });
    expect(store).toMatch(/--store must be a postgres:\/\//);
    expect(store).not.toContain('secret');
    expect(refused({ advertiseUrl: 'alloc-1:7400' })).toMatch(/--advertise-url/);
    expect(refused({ leaderLease: '100ms' })).toMatch(/at least 300ms/);
  });
});
