/**
 * OCI image references, PURE: the shape `[registry[:port]/]path[:tag][@sha256:<64 hex>]` as the
 * distribution spec's reference grammar writes it (github.com/distribution/reference), the registry
 * a reference pulls from, and the prefix match an admin's `allowedImagePrefixes` uses. Used by the
 * spec validator, the policies and the registry secrets, so the three agree on what a registry is.
 */

/** Longest reference accepted: a 255-character name (the distribution spec's cap), a tag and a digest. */
export const MAX_IMAGE_CHARS = 512;
/** Longest repository name, registry included (distribution's NameTotalLengthMax). */
export const MAX_IMAGE_NAME_CHARS = 255;

/** An example every message about an image can show. */
export const IMAGE_EXAMPLE = 'nvcr.io/nvidia/pytorch:24.05-py3';

/** A reference split into its parts; `registry` is null for a short name such as `ubuntu:22.04`. */
export interface ImageRef {
  registry: string | null;
  /** The path inside the registry, e.g. `nvidia/pytorch`. */
  path: string;
  tag: string | null;
  digest: string | null;
}

// From the distribution spec's grammar: a registry host is DNS labels (any case) with an optional
// port; a path component is lowercase alphanumerics joined by '.', '_', '__' or runs of '-'.
const HOST_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const REGISTRY = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*(?::[0-9]{1,5})?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

/** True for `host[:port]` as a registry is written (`nvcr.io`, `localhost:5000`). */
export function isRegistryHost(s: string): boolean {
  return REGISTRY.test(s);
}

/**
 * Whether the first component of a name is a registry rather than the first path component: the
 * container tools' rule (a dot, a port, or `localhost`), so `nvcr.io/x` pulls from nvcr.io while
 * `library/ubuntu` is a path the node's own search registries resolve.
 */
function looksLikeRegistry(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost';
}

/** A reference's parts, or why it is not one (a phrase for a message that goes on to show the form). */
export function parseImageRef(ref: string): { ok: true; value: ImageRef } | { ok: false; why: string } {
  const no = (why: string) => ({ ok: false as const, why });
  if (ref.length === 0) return no('must not be empty');
  if (ref.length > MAX_IMAGE_CHARS) return no(`longer than ${MAX_IMAGE_CHARS} characters`);
  if (/\s/.test(ref)) return no('must not contain whitespace');
  let rest = ref;
  let digest: string | null = null;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest))
      return no(`digest ${JSON.stringify(digest)} is not sha256: and 64 lowercase hex digits`);
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag))
      return no(
        `tag ${JSON.stringify(tag)} must be 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'`,
      );
  }
  if (rest.length > MAX_IMAGE_NAME_CHARS)
    return no(`the name is longer than ${MAX_IMAGE_NAME_CHARS} characters`);
  const parts = rest.split('/');
  const first = parts[0] ?? '';
  let registry: string | null = null;
  if (parts.length > 1 && looksLikeRegistry(first)) {
    if (!isRegistryHost(first))
      return no(`registry ${JSON.stringify(first)} is not a host name with an optional port`);
    registry = first;
    parts.shift();
  }
  for (const part of parts) {
    if (part === '') return no("has an empty path component (a doubled or trailing '/')");
    if (!PATH_COMPONENT.test(part)) {
      const lower = part !== part.toLowerCase() ? ' (path components are lowercase)' : '';
      return no(
        `path component ${JSON.stringify(part)} is not lowercase letters and digits joined by '.', '_' or '-'${lower}`,
      );
    }
  }
  return { ok: true, value: { registry, path: parts.join('/'), tag, digest } };
}

/** The repository a reference names, registry included and tag and digest left out. */
export function repositoryOf(ref: ImageRef): string {
  return ref.registry === null ? ref.path : `${ref.registry}/${ref.path}`;
}

// Docker Hub answers to several names; a credential saved for one is the login for all of them.
const DOCKER_HUB = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);

/** Whether two registry hosts are the same registry (case-insensitive; Docker Hub's aliases are one). */
export function sameRegistry(a: string, b: string): boolean {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  return x === y || (DOCKER_HUB.has(x) && DOCKER_HUB.has(y));
}

/**
 * Whether an image's repository lies under an allowed prefix, component by component: `nvcr.io/nvidia`
 * allows `nvcr.io/nvidia/pytorch` but not `nvcr.io/nvidia-evil/x`, and `nvcr.io` allows all of
 * nvcr.io but not `nvcr.io.example.com`. A trailing '/' on the prefix changes nothing.
 */
export function underImagePrefix(ref: ImageRef, prefix: string): boolean {
  return ref.registry !== null && prefixCovers(prefix, repositoryOf(ref));
}

/** Why `prefix` cannot be an allowed image prefix (`registry[:port][/path...]`), or null when it can. */
export function imagePrefixProblem(prefix: string): string | null {
  const p = prefix.replace(/\/+$/, '');
  const [host = '', ...path] = p.split('/');
  if (!isRegistryHost(host) || !looksLikeRegistry(host))
    return `${JSON.stringify(prefix)} must start with a registry host (a name with a dot or a port, or localhost), e.g. nvcr.io/nvidia`;
  const bad = path.find((c) => !PATH_COMPONENT.test(c));
  if (bad !== undefined)
    return `${JSON.stringify(prefix)} has the path component ${JSON.stringify(bad)}; write registry/path without tag or digest`;
  return null;
}

/** Whether the image prefix `outer` covers the prefix `inner` (`nvcr.io` covers `nvcr.io/nvidia`). */
export function prefixCovers(outer: string, inner: string): boolean {
  const [oHost = '', ...oPath] = outer.replace(/\/+$/, '').split('/');
  const [iHost = '', ...iPath] = inner.replace(/\/+$/, '').split('/');
  return sameRegistry(oHost, iHost) && oPath.length <= iPath.length && oPath.every((c, i) => iPath[i] === c);
}
