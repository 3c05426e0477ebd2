import { describe, expect, it } from 'vitest';
import {
  imagePrefixProblem,
  isRegistryHost,
  parseImageRef,
  repositoryOf,
  sameRegistry,
  underImagePrefix,
} from '../../common/image-ref.ts';

function parsed(ref: string) {
  const r = parseImageRef(ref);
  if (!r.ok) throw new Error(`${ref}: ${r.why}`);
  return r.value;
}

function why(ref: string): string {
  const r = parseImageRef(ref);
  if (r.ok) throw new Error(`${ref} parsed`);
  return r.why;
}

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('parseImageRef', () => {
  it.each([
    ['nvcr.io/nvidia/pytorch:24.05-py3', 'nvcr.io', 'nvidia/pytorch', '24.05-py3', null],
    ['ubuntu', null, 'ubuntu', null, null],
    ['ubuntu:22.04', null, 'ubuntu', '22.04', null],
    ['library/ubuntu', null, 'library/ubuntu', null, null],
    ['localhost:5000/team/app:v1', 'localhost:5000', 'team/app', 'v1', null],
    ['localhost/app', 'localhost', 'app', null, null],
    ['Registry.Example.com/a__b/c-d.e', 'Registry.Example.com', 'a__b/c-d.e', null, null],
    [`ghcr.io/org/img@${DIGEST}`, 'ghcr.io', 'org/img', null, DIGEST],
    [`ghcr.io/org/img:1.0@${DIGEST}`, 'ghcr.io', 'org/img', '1.0', DIGEST],
  ])('reads %s', (ref, registry, path, tag, digest) => {
    expect(parsed(ref)).toEqual({ registry, path, tag, digest });
  });

  it.each([
    ['', /empty/],
    ['nvcr.io/NVIDIA/pytorch', /path component "NVIDIA".*lowercase/],
    ['nvcr.io/nvidia//pytorch', /empty path component/],
    ['nvcr.io/nvidia/pytorch/', /empty path component/],
    ['nvcr.io/nvidia/pytorch:', /tag ""/],
    ['nvcr.io/nvidia/pytorch:-x', /tag "-x"/],
    [`nvcr.io/nvidia/pytorch:${'t'.repeat(129)}`, /tag/],
    ['nvcr.io/x@sha256:abc', /digest "sha256:abc"/],
    [`nvcr.io/x@md5:${'a'.repeat(64)}`, /digest/],
    ['nvcr.io/nv idia', /whitespace/],
    ['my_registry.io:99999999/x', /registry/],
    [`nvcr.io/${'a'.repeat(300)}`, /longer than 255/],
    [`nvcr.io/${'a/'.repeat(300)}x`, /longer than 512/],
    ['nvcr.io/x\0y', /path component/],
  ])('refuses %j', (ref, message) => {
    expect(why(ref)).toMatch(message);
  });

  it('names the repository without tag or digest', () => {
    expect(repositoryOf(parsed(`nvcr.io/nvidia/pytorch:24.05@${DIGEST}`))).toBe('nvcr.io/nvidia/pytorch');
    expect(repositoryOf(parsed('ubuntu:22.04'))).toBe('ubuntu');
  });
});

describe('registries and prefixes', () => {
  it('treats Docker Hub aliases and case as one registry', () => {
    expect(sameRegistry('docker.io', 'index.docker.io')).toBe(true);
    expect(sameRegistry('NVCR.io', 'nvcr.io')).toBe(true);
    expect(sameRegistry('nvcr.io', 'ghcr.io')).toBe(false);
    expect(isRegistryHost('localhost:5000')).toBe(true);
    expect(isRegistryHost('https://x')).toBe(false);
  });

  it('matches prefixes component by component, never a longer name', () => {
    const img = parsed('nvcr.io/nvidia/pytorch:24.05-py3');
    expect(underImagePrefix(img, 'nvcr.io')).toBe(true);
    expect(underImagePrefix(img, 'nvcr.io/nvidia')).toBe(true);
    expect(underImagePrefix(img, 'nvcr.io/nvidia/')).toBe(true);
    expect(underImagePrefix(img, 'nvcr.io/nvidia/pytorch')).toBe(true);
    expect(underImagePrefix(img, 'nvcr.io/nvidia/pytorch-nightly')).toBe(false);
    expect(underImagePrefix(img, 'nvcr.io/nvid')).toBe(false);
    expect(underImagePrefix(parsed('nvcr.io.example.com/nvidia/x'), 'nvcr.io')).toBe(false);
    expect(underImagePrefix(parsed('nvcr.io/nvidia-evil/x'), 'nvcr.io/nvidia')).toBe(false);
  });

  it('never matches a short name: the node decides where it is pulled from', () => {
    expect(underImagePrefix(parsed('nvidia/pytorch'), 'docker.io/nvidia')).toBe(false);
    expect(underImagePrefix(parsed('docker.io/nvidia/pytorch'), 'index.docker.io/nvidia')).toBe(true);
  });

  it('accepts a registry with an optional path as a prefix, nothing else', () => {
    expect(imagePrefixProblem('nvcr.io/nvidia/')).toBeNull();
    expect(imagePrefixProblem('localhost:5000')).toBeNull();
    expect(imagePrefixProblem('nvidia/pytorch')).toMatch(/registry host/);
    expect(imagePrefixProblem('nvcr.io/nvidia/pytorch:24.05')).toMatch(/without tag or digest/);
  });
});
