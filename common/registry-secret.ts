/**
 * Registry secrets: a login to one container registry, stored per project and named by a
 * workload's `imagePullSecret`. The allocator resolves the name into a credential when it sends the
 * pod to its node; the password leaves the allocator only there, inside the StartPod, and no API
 * route ever answers it. This file holds the types and the validator of an untrusted create body.
 */
import { z } from 'zod';
import { err, ok, type Result, tesseraError } from './errors.ts';
import { type ImageRef, isRegistryHost, sameRegistry } from './image-ref.ts';
import { WIRE_LIMITS } from './wire-limits.ts';
import { SECRET_NAME, SECRET_NAME_HELP } from './workload-container.ts';

/** A login to one registry, as the agent's runtime uses it to pull. */
export interface RegistryCredential {
  /** Registry host[:port], e.g. `nvcr.io` or `localhost:5000`, lowercase. */
  server: string;
  username: string;
  password: string;
}

/** What creating (or replacing) a registry secret takes, validated. */
export interface RegistrySecretInput extends RegistryCredential {
  name: string;
}

const L = WIRE_LIMITS;

const SecretBody = z.strictObject({
  name: z.string(),
  server: z.string(),
  username: z.string(),
  password: z.string(),
});

/** What each field of a create body accepts. */
const HELP: Readonly<Record<string, string>> = {
  name: SECRET_NAME_HELP,
  server: "the registry's host with an optional port, no scheme or path (e.g. 'nvcr.io', 'localhost:5000')",
  username: `the registry user name, 1 to ${L.maxIdChars} characters (NGC: '$oauthtoken')`,
  password: `the password or access token, 1 to ${L.maxSecretChars} characters; the CLI reads it from stdin (--password-stdin)`,
};

function invalid(field: string, why: string) {
  return err(
    tesseraError(
      'TESSERA_E_INVALID_SPEC',
      `registry secret ${field}: ${why}; accepted: ${HELP[field] ?? ''}`,
      {
        field,
      },
    ),
  );
}

/** Validates an untrusted create body; the server is kept lowercase (host names are case-insensitive). */
export function parseRegistrySecretInput(input: unknown): Result<RegistrySecretInput> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    return err(
      tesseraError(
        'TESSERA_E_INVALID_SPEC',
        'registry secret: expected a JSON object {name, server, username, password}',
      ),
    );
  const r = SecretBody.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field =
      issue?.code === 'unrecognized_keys' ? (issue.keys[0] ?? '') : (issue?.path.map(String).join('.') ?? '');
    if (HELP[field] === undefined)
      return err(
        tesseraError(
          'TESSERA_E_INVALID_SPEC',
          `registry secret: unknown field ${JSON.stringify(field)}; fields accepted: name, server, username, password`,
          { field },
        ),
      );
    return invalid(
      field,
      issue?.code === 'invalid_type' && issue.input === undefined ? 'required' : 'must be a string',
    );
  }
  const { name, server, username, password } = r.data;
  if (name.length > 63 || !SECRET_NAME.test(name))
    return invalid('name', `${JSON.stringify(name)} is not a secret name`);
  if (!isRegistryHost(server)) return invalid('server', `${JSON.stringify(server)} is not a registry host`);
  if (username.length === 0 || username.length > L.maxIdChars || username.includes('\0'))
    return invalid(
      'username',
      username.length === 0 ? 'must not be empty' : 'is too long or holds a NUL character',
    );
  if (password.length === 0) return invalid('password', 'must not be empty');
  if (password.length > L.maxSecretChars || password.includes('\0'))
    return invalid('password', 'is too long or holds a NUL character');
  return ok({ name, server: server.toLowerCase(), username, password });
}

/**
 * Why a secret for `server` cannot log in to pull `image`, or null when it can. A short name
 * (`ubuntu`) has no registry to compare: the node's search list decides where it comes from, and
 * the runtime would offer the login to whichever registry that is, so it is refused too.
 */
export function credentialMismatch(image: ImageRef, imageText: string, server: string): string | null {
  if (image.registry === null)
    return `image ${JSON.stringify(imageText)} names no registry, so the login for ${server} cannot be matched to it; write the image in full (${server}/${image.path})`;
  if (!sameRegistry(image.registry, server))
    return `the secret logs in to ${server} but image ${JSON.stringify(imageText)} is pulled from ${image.registry}`;
  return null;
}
