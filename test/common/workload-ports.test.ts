import { describe, expect, it } from 'vitest';
import { parseWorkloadSpec } from '../../common/workload.ts';
import { MAX_PORTS_PER_POD, portEnvName } from '../../common/workload-ports.ts';

const base = { name: 'w', project: 'p', command: ['run'] };
const parse = (extra: Record<string, unknown>) => parseWorkloadSpec({ ...base, ...extra });
const message = (extra: Record<string, unknown>): string => {
  const r = parse(extra);
  if (r.ok) throw new Error('expected an error');
  return r.error.message;
};

describe('spec ports and framework', () => {
  it('keeps named ports in order; a workload without any has none', () => {
    const r = parse({ type: 'inference', ports: [{ name: 'http' }, { name: 'metrics' }] });
    expect(r.ok && r.value.ports).toEqual([{ name: 'http' }, { name: 'metrics' }]);
    const plain = parse({ type: 'training' });
    expect(plain.ok && plain.value.ports).toEqual([]);
    expect(plain.ok && plain.value.framework).toBeUndefined();
  });

  it('gives a distributed workload the rendezvous port first and pytorch by default', () => {
    const r = parse({ type: 'distributed', ports: [{ name: 'metrics' }] });
    expect(r.ok && r.value.ports).toEqual([{ name: 'rendezvous' }, { name: 'metrics' }]);
    expect(r.ok && r.value.framework).toBe('pytorch');
    const own = parse({
      type: 'distributed',
      framework: 'jax',
      ports: [{ name: 'x' }, { name: 'rendezvous' }],
    });
    expect(own.ok && own.value.ports).toEqual([{ name: 'x' }, { name: 'rendezvous' }]);
    expect(own.ok && own.value.framework).toBe('jax');
  });

  it('refuses bad names, duplicates, too many ports and a framework off distributed, naming the field', () => {
    expect(message({ type: 'inference', ports: [{ name: 'HTTP' }] })).toMatch(
      /^ports\.0\.name: "HTTP" is not a port name; accepted: a DNS-1123 label/,
    );
    expect(message({ type: 'inference', ports: [{ name: 'a' }, { name: 'a' }] })).toMatch(
      /ports\.1\.name: "a" is listed twice \(also ports\.0\)/,
    );
    const many = Array.from({ length: MAX_PORTS_PER_POD }, (_, i) => ({ name: `p${i}` }));
    expect(parse({ type: 'inference', ports: many }).ok).toBe(true);
    expect(message({ type: 'inference', ports: [...many, { name: 'x' }] })).toMatch(/^ports: /);
    expect(message({ type: 'distributed', ports: many })).toMatch(
      /also get the port rendezvous, so list at most 7 others/,
    );
    expect(message({ type: 'training', framework: 'pytorch' })).toMatch(
      /^framework: applies only to a distributed workload/,
    );
    expect(message({ type: 'distributed', framework: 'horovod' })).toMatch(
      /^framework: .*one of pytorch, mpi, tensorflow, jax, none/,
    );
    expect(message({ type: 'inference', ports: [{ name: 'http', port: 80 }] })).toMatch(/ports\.0/);
  });

  it('names the env variable of a port: upper case, - as _', () => {
    expect(portEnvName('grpc-web')).toBe('TESSERA_PORT_GRPC_WEB');
  });
});
