import { describe, expect, it } from 'vitest';
import {
  AlreadyOwnedError,
  controllerReference,
  getControllerOf,
  isControlledBy,
  setControllerReference,
  withControllerReference,
} from './owner-references.ts';

const policy = { apiVersion: 'saasbackup.io/v1alpha1', kind: 'BackupPolicy', metadata: { name: 'mail', uid: 'uid-1' } };
const other = { apiVersion: 'saasbackup.io/v1alpha1', kind: 'BackupPolicy', metadata: { name: 'drive', uid: 'uid-2' } };

describe('owner references', () => {
  it('builds a blocking controller reference', () => {
    expect(controllerReference(policy)).toEqual({
      apiVersion: 'saasbackup.io/v1alpha1',
      kind: 'BackupPolicy',
      name: 'mail',
      uid: 'uid-1',
      controller: true,
      blockOwnerDeletion: true,
    });
  });

  it('refuses an owner that was never stored (no uid)', () => {
    expect(() => controllerReference({ ...policy, metadata: { name: 'mail' } })).toThrow(/uid/);
  });

  it('sets the reference idempotently and keeps non-controller owners', () => {
    const job = {
      metadata: { name: 'mail-202601010600', ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'cm' }] },
    };
    const once = setControllerReference(job, policy);
    const twice = setControllerReference(once, policy);
    expect(twice.metadata.ownerReferences).toEqual(once.metadata.ownerReferences);
    expect(twice.metadata.ownerReferences).toHaveLength(2);
    expect(job.metadata.ownerReferences).toHaveLength(1);
    expect(getControllerOf(twice)?.uid).toBe('uid-1');
    expect(isControlledBy(twice, policy)).toBe(true);
    expect(isControlledBy(twice, other)).toBe(false);
  });

  it('will not steal a child controlled by another owner', () => {
    const refs = withControllerReference(undefined, policy);
    expect(() => withControllerReference(refs, other)).toThrow(AlreadyOwnedError);
  });
});
