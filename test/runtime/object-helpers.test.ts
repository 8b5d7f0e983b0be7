// The runtime's write helpers against the real apiserver: finalizers are added and removed with
// optimistic concurrency (a stale copy gets 409, never a lost update), a finalizer holds a
// deleted object until it is removed, and controller owner references are stored as built.
import { ApiException, type KubernetesObject } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { GROUP, VERSION } from '../../src/api/kind.ts';
import { addFinalizer, removeFinalizer } from '../../src/runtime/finalizers.ts';
import { getControllerOf, setControllerReference, type OwnerReference } from '../../src/runtime/owner-references.ts';
import { adminKubeConfig } from '../envtest/context.ts';
import { API_VERSION, apply, create, freshNamespace, get, remove, type Manifest } from '../support/kube.ts';

const kc = adminKubeConfig();
const FINALIZER = 'saasbackup.io/test-cleanup';
const policies = { group: GROUP, version: VERSION, plural: 'backuppolicies' };
let namespace: string;

const policy = (name: string): Manifest => ({
  apiVersion: API_VERSION,
  kind: 'BackupPolicy',
  metadata: { name },
  spec: { connectorRef: { name: 'c' }, services: ['mail'], storage: { local: { path: '/b' }, encryptionKeySecretRef: { name: 'k' } } },
});

type Stored = KubernetesObject & { metadata: { name: string; uid: string; finalizers?: string[]; deletionTimestamp?: string } };
const read = async (name: string) => get<Stored>(kc, API_VERSION, 'BackupPolicy', namespace, name);

beforeAll(async () => {
  namespace = await freshNamespace(kc, 'object-helpers');
});

describe('finalizers', () => {
  it('adds once, holds a deleted object, and lets it go when removed', async () => {
    const created = await apply<Stored>(kc, policy('held'), namespace);
    const withFinalizer = await addFinalizer(kc, policies, created, FINALIZER);
    expect(withFinalizer.metadata?.finalizers).toEqual([FINALIZER]);
    expect(await addFinalizer(kc, policies, withFinalizer, FINALIZER)).toBe(withFinalizer);

    await remove(kc, API_VERSION, 'BackupPolicy', namespace, 'held');
    const terminating = (await read('held'))!;
    expect(terminating.metadata.deletionTimestamp).toBeTruthy();

    await removeFinalizer(kc, policies, terminating, FINALIZER);
    expect(await read('held')).toBeUndefined();
  });

  it('refuses to write from a stale copy instead of losing a concurrent change', async () => {
    const stale = await apply<Stored>(kc, policy('contended'), namespace);
    await addFinalizer(kc, policies, stale, 'someone-else.example.com/finalizer');
    const error = await addFinalizer(kc, policies, stale, FINALIZER).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiException);
    expect((error as ApiException<unknown>).code).toBe(409);
    expect((await read('contended'))!.metadata.finalizers).toEqual(['someone-else.example.com/finalizer']);
    await removeFinalizer(kc, policies, (await read('contended'))!, 'someone-else.example.com/finalizer');
  });
});

describe('owner references', () => {
  it('stores a controller reference from a policy to the run it created', async () => {
    const owner = (await apply<Stored>(kc, policy('owner'), namespace))!;
    type Owned = Manifest & { metadata: Manifest['metadata'] & { ownerReferences?: OwnerReference[] } };
    const run = setControllerReference<Owned>(
      { apiVersion: API_VERSION, kind: 'BackupRun', metadata: { name: 'owner-202611220600' }, spec: { policyRef: { name: 'owner' } } },
      owner,
    );
    const stored = await create<Owned>(kc, run, namespace);
    expect(getControllerOf(stored)).toEqual({
      apiVersion: API_VERSION,
      kind: 'BackupPolicy',
      name: 'owner',
      uid: owner.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    });
  });
});
