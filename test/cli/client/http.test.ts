import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createClient } from '../../../cli/client/http.ts';
import { CliError, EXIT_FAILURE } from '../../../cli/errors.ts';

const config = { url: 'http://alloc.test:7400', token: 'tu.a.b', urlFrom: '--url' };

async function caught(p: Promise<unknown>): Promise<CliError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CliError) return e;
    throw e;
  }
  throw new Error('expected a CliError');
}

/** A port nothing listens on: bind one, then close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('API client', () => {
  it('sends JSON with the bearer token under /api/v1 and parses the answer', async () => {
    const seen: { url: string; init: RequestInit | undefined }[] = [];
    const client = createClient(config, {
      fetch: async (url, init) => {
        seen.push({ url: String(url), init });
        return new Response(JSON.stringify({ id: 'w1' }), { status: 201 });
      },
    });
    expect(await client.request('POST', '/workloads', { name: 'x' })).toEqual({ id: 'w1' });
    expect(seen[0]?.url).toBe('http://alloc.test:7400/api/v1/workloads');
    expect(seen[0]?.init?.body).toBe('{"name":"x"}');
    expect(seen[0]?.init?.headers).toMatchObject({
      authorization: 'Bearer tu.a.b',
      'content-type': 'application/json',
    });
  });

  it('list follows the Tessera-Continue header page by page and returns every row', async () => {
    const seen: string[] = [];
    const pages: Record<string, { rows: string[]; next?: string }> = {
      '/api/v1/workloads?project=vision': { rows: ['a', 'b'], next: 'tok/1' },
      '/api/v1/workloads?project=vision&continue=tok%2F1': { rows: ['c'], next: 'tok2' },
      '/api/v1/workloads?project=vision&continue=tok2': { rows: [] },
    };
    const client = createClient(config, {
      fetch: async (url) => {
        const path = String(url).slice(config.url.length);
        seen.push(path);
        const page = pages[path];
        if (page === undefined) return new Response('{}', { status: 404 });
        const headers: Record<string, string> =
          page.next === undefined ? {} : { 'tessera-continue': page.next };
        return new Response(JSON.stringify(page.rows), { status: 200, headers });
      },
    });
    expect(await client.list('/workloads?project=vision')).toEqual(['a', 'b', 'c']);
    expect(seen).toHaveLength(3);
  });

  it("keeps the API error body's code, message and field (exit 1)", async () => {
    const body = {
      error: { code: 'TESSERA_E_INVALID_SPEC', message: 'resources.cpu: bad', field: 'resources.cpu' },
    };
    const client = createClient(config, {
      fetch: async () => new Response(JSON.stringify(body), { status: 400 }),
    });
    const e = await caught(client.request('POST', '/workloads', {}));
    expect(e.exitCode).toBe(EXIT_FAILURE);
    expect(e.error).toEqual(body.error);
  });

  it('turns an answer without the error shape into a code from its status', async () => {
    const client = createClient(config, { fetch: async () => new Response('Bad Gateway', { status: 502 }) });
    const e = await caught(client.request('GET', '/workloads'));
    expect(e.error.code).toBe('TESSERA_E_UNAVAILABLE');
    expect(e.error.message).toContain('HTTP 502: Bad Gateway');
  });

  it('names the URL when the allocator refuses the connection', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const client = createClient({ url, token: undefined, urlFrom: 'tessera-data/allocator.json' });
    const e = await caught(client.request('GET', '/workloads'));
    expect(e.error.code).toBe('TESSERA_E_UNAVAILABLE');
    expect(e.error.message).toContain(`allocator at ${url} refused the connection`);
    expect(e.error.message).toContain('is tessera up still running?');
  });

  it('gives up on an allocator that does not answer in time', async () => {
    const client = createClient(config, {
      timeoutMs: 20,
      fetch: (_url, init) =>
        new Promise((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        }),
    });
    const e = await caught(client.request('GET', '/workloads'));
    expect(e.error.message).toContain('did not answer within 0.02s');
  });

  it('asks the next of several allocators when one refuses the connection, and keeps to the one that answers', async () => {
    const dead = await closedPort();
    const seen: string[] = [];
    const real = globalThis.fetch;
    const client = createClient(
      { url: `http://127.0.0.1:${dead}, http://alloc-2.test:7400/`, token: 'tu.a.b', urlFrom: '--url' },
      {
        fetch: async (url, init) => {
          seen.push(new URL(String(url)).host);
          if (String(url).includes('alloc-2.test')) return new Response('[]', { status: 200 });
          return real(url, init);
        },
      },
    );
    expect(await client.request('GET', '/workloads')).toEqual([]);
    expect(await client.request('GET', '/workloads')).toEqual([]);
    expect(seen).toEqual([`127.0.0.1:${dead}`, 'alloc-2.test:7400', 'alloc-2.test:7400']);
  });
});
