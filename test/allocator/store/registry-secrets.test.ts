/** Registry secrets in the store: create, replace, list without passwords, delete, and the submit check. */
import { expect, it } from 'vitest';
import { deleteQueue } from '../../../allocator/store/org.ts';
import {
  deleteRegistrySecret,
  listRegistrySecrets,
  putRegistrySecret,
  registryCredentialOf,
  workloadsUsingSecret,
} from '../../../allocator/store/registry-secrets.ts';
import { changePhase, submitWorkload } from '../../../allocator/store/workloads.ts';
import { failure, value } from '../../result.ts';
import { describeBackends, must, openTemp, smallOrg, T0, training } from './helpers.ts';

const ngc = { name: 'ngc', server: 'nvcr.io', username: '$oauthtoken', password: 's3cret' };

function withSecret() {
  const db = openTemp();
  smallOrg(db);
  must(putRegistrySecret(db, 'vision', ngc, T0, { replace: false }));
  return db;
}

const imageSpec = (name: string, extra: Record<string, unknown> = {}) => ({
  ...training(name),
  image: 'nvcr.io/nvidia/pytorch:24.05-py3',
  imagePullSecret: 'ngc',
  ...extra,
});

describeBackends('registry secrets in the store', () => {
  it('lists name, server, user and times, never the password', () => {
    const db = withSecret();
    const list = value(listRegistrySecrets(db, 'vision'));
    expect(list).toEqual([
      {
        project: 'vision',
        name: 'ngc',
        server: 'nvcr.io',
        username: '$oauthtoken',
        createdMs: T0,
        updatedMs: T0,
      },
    ]);
    expect(JSON.stringify(list)).not.toContain('s3cret');
    expect(value(listRegistrySecrets(db, 'nlp'))).toEqual([]);
    expect(failure(listRegistrySecrets(db, 'nope')).code).toBe('TESSERA_E_NOT_FOUND');
  });

  it('refuses a second create of a name but replaces with replace, keeping the creation time', () => {
    const db = withSecret();
    const again = failure(putRegistrySecret(db, 'vision', ngc, T0 + 5, { replace: false }));
    expect(again.code).toBe('TESSERA_E_CONFLICT');
    expect(again.message).toMatch(/already exists in project vision; replace it with --replace/);
    const replaced = value(
      putRegistrySecret(db, 'vision', { ...ngc, password: 'rotated' }, T0 + 5, { replace: true }),
    );
    expect(replaced).toMatchObject({ createdMs: T0, updatedMs: T0 + 5 });
    expect(registryCredentialOf(db, 'vision', 'ngc')).toEqual({
      server: 'nvcr.io',
      username: '$oauthtoken',
      password: 'rotated',
    });
  });

  it('keeps secrets per project: the same name in two projects is two secrets', () => {
    const db = withSecret();
    must(putRegistrySecret(db, 'nlp', { ...ngc, password: 'other' }, T0, { replace: false }));
    expect(registryCredentialOf(db, 'nlp', 'ngc')?.password).toBe('other');
    expect(registryCredentialOf(db, 'vision', 'ngc')?.password).toBe('s3cret');
    expect(registryCredentialOf(db, 'vision', 'missing')).toBeUndefined();
  });

  it('refuses a secret in a project that does not exist', () => {
    const db = openTemp();
    smallOrg(db);
    expect(failure(putRegistrySecret(db, 'nope', ngc, T0, { replace: false })).code).toBe(
      'TESSERA_E_NOT_FOUND',
    );
  });

  it('deletes a secret no workload names, and says so for one that is not there', () => {
    const db = withSecret();
    must(deleteRegistrySecret(db, 'vision', 'ngc'));
    expect(value(listRegistrySecrets(db, 'vision'))).toEqual([]);
    const gone = failure(deleteRegistrySecret(db, 'vision', 'ngc'));
    expect(gone.code).toBe('TESSERA_E_NOT_FOUND');
    expect(gone.message).toMatch(/tessera secret list -p vision/);
  });

  it('refuses to delete a secret a workload that may still start pods names, listing it', () => {
    const db = withSecret();
    const w = value(submitWorkload(db, imageSpec('a'), T0));
    must(submitWorkload(db, imageSpec('b'), T0));
    expect(workloadsUsingSecret(db, 'vision', 'ngc')).toEqual(['a', 'b']);
    const refused = failure(deleteRegistrySecret(db, 'vision', 'ngc'));
    expect(refused.code).toBe('TESSERA_E_CONFLICT');
    expect(refused.message).toMatch(/may still start pods: a, b; delete those workloads first, or replace/);
    // A Stopped workload may run again: it still counts. A Failed one cannot.
    must(changePhase(db, w.id, 'Stopped', 'StoppedByUser', T0 + 1));
    expect(workloadsUsingSecret(db, 'vision', 'ngc')).toEqual(['a', 'b']);
    expect(workloadsUsingSecret(db, 'nlp', 'ngc')).toEqual([]);
  });

  it('goes with its project', () => {
    const db = withSecret();
    must(deleteQueue(db, 'vision'));
    expect(registryCredentialOf(db, 'vision', 'ngc')).toBeUndefined();
  });
});

describeBackends('submitting a workload that names a pull secret', () => {
  it('stores it when the secret exists in its project and serves its registry', () => {
    const db = withSecret();
    expect(value(submitWorkload(db, imageSpec('ok'), T0)).spec.imagePullSecret).toBe('ngc');
  });

  it('refuses a secret the project lacks, naming the command that creates it', () => {
    const db = withSecret();
    const e = failure(
      submitWorkload(db, { ...imageSpec('x', { imagePullSecret: 'ghcr' }), project: 'vision' }, T0),
    );
    expect(e).toMatchObject({ code: 'TESSERA_E_NOT_FOUND', field: 'imagePullSecret' });
    expect(e.message).toBe(
      'imagePullSecret: no registry secret ghcr in project vision; create it with tessera secret create registry ghcr -p vision --server HOST --username USER --password-stdin',
    );
    expect(failure(submitWorkload(db, { ...imageSpec('y'), project: 'nlp' }, T0)).message).toMatch(
      /no registry secret ngc in project nlp/,
    );
  });

  it('refuses a secret for another registry, or an image without one', () => {
    const db = withSecret();
    const other = failure(submitWorkload(db, imageSpec('x', { image: 'ghcr.io/org/app:1' }), T0));
    expect(other).toMatchObject({ code: 'TESSERA_E_INVALID_SPEC', field: 'imagePullSecret' });
    expect(other.message).toMatch(
      /logs in to nvcr.io but image "ghcr.io\/org\/app:1" is pulled from ghcr.io/,
    );
    const short = failure(submitWorkload(db, imageSpec('y', { image: 'pytorch:24.05' }), T0));
    expect(short.message).toMatch(/names no registry.*write the image in full \(nvcr.io\/pytorch\)/);
  });
});
