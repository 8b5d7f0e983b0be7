import { describe, expect, it } from 'vitest';
import type { BackupRun } from '../../api/backup-run.ts';
import { API_VERSION } from '../../api/kind.ts';
import { policy } from '../fixtures.test-support.ts';
import { decideBackupRun } from './decide.ts';

const now = new Date('2026-11-22T06:30:00Z');

function run(spec: Partial<BackupRun['spec']> = {}, status?: BackupRun['status']): BackupRun {
  return {
    apiVersion: API_VERSION,
    kind: 'BackupRun',
    metadata: { name: 'daily-202611220600', namespace: 'backup', creationTimestamp: '2026-11-22T06:00:00Z' },
    spec: { policyRef: { name: 'daily' }, trigger: 'Schedule', cancel: false, ...spec },
    status,
  };
}

describe('BackupRun decisions', () => {
  it('waits in Scheduled for a worker when valid', () => {
    expect(decideBackupRun({ run: run(), policy: policy(), now })).toMatchObject({
      phase: 'Scheduled',
      succeeded: { status: 'Unknown', reason: 'Scheduled' },
    });
  });

  it('waits, rather than fails, while its policy does not exist yet', () => {
    expect(decideBackupRun({ run: run(), policy: undefined, now })).toMatchObject({
      phase: 'Scheduled',
      succeeded: { status: 'Unknown', reason: 'PolicyNotFound' },
    });
  });

  it('is Cancelled with completion time and duration when spec.cancel is set', () => {
    expect(decideBackupRun({ run: run({ cancel: true }), policy: policy(), now })).toEqual({
      phase: 'Cancelled',
      succeeded: expect.objectContaining({ status: 'False', reason: 'Cancelled' }),
      completionTime: now.toISOString(),
      duration: '30m',
    });
  });

  it('fails a run asking for a service the policy does not back up', () => {
    const decision = decideBackupRun({ run: run({ services: ['teams'] }), policy: policy(), now });
    expect(decision).toMatchObject({ phase: 'Unsuccessful', succeeded: { reason: 'InvalidConfiguration' } });
    expect(decision?.succeeded.message).toContain('teams');
  });

  it('never changes a finished run', () => {
    expect(decideBackupRun({ run: run({ cancel: true }, { phase: 'Successful' }), policy: policy(), now })).toBeUndefined();
  });
});
