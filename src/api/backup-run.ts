// BackupRun: one backup attempt. `kubectl get backupruns` is the job monitor.
import { SERVICES } from './backup-policy.ts';
import { AGE_COLUMN, type KindDefinition, type Resource } from './kind.ts';
import {
  cel,
  Conditions,
  Int64,
  ItemCounter,
  LocalObjectReference,
  ObservedGeneration,
  StringEnum,
  Timestamp,
  Type,
  type Static,
} from './schema.ts';

/** The outcomes users know from the job monitor (reference/job-monitor-statuses-and-reasons.txt). */
export const RUN_PHASES = ['Scheduled', 'InProgress', 'Successful', 'Incomplete', 'Unsuccessful', 'Cancelled'] as const;
export type RunPhase = (typeof RUN_PHASES)[number];
export const FINISHED_PHASES: readonly RunPhase[] = ['Successful', 'Incomplete', 'Unsuccessful', 'Cancelled'];

export const BackupRunSpec = Type.Object(
  {
    policyRef: LocalObjectReference('BackupPolicy'),
    trigger: StringEnum(['Schedule', 'Manual'] as const, {
      default: 'Manual',
      description: 'Schedule when created by the policy schedule, Manual for "backup now".',
    }),
    scheduledTime: Type.Optional(Timestamp('The schedule slot this run belongs to (set by the controller for scheduled runs).')),
    accounts: Type.Optional(
      Type.Array(Type.String({ maxLength: 320 }), {
        maxItems: 1000,
        description: 'Back up only these accounts (addresses or ids); default: every account the policy selects.',
      }),
    ),
    services: Type.Optional(
      Type.Array(StringEnum(SERVICES), {
        maxItems: SERVICES.length,
        'x-kubernetes-list-type': 'set',
        description: 'Subset of the policy services.',
      }),
    ),
    cancel: Type.Boolean({ default: false, description: 'Set to true to cancel the run; the data already written is kept.' }),
  },
  cel(
    { rule: 'self.policyRef == oldSelf.policyRef', message: 'policyRef is immutable', fieldPath: '.policyRef' },
    { rule: '!oldSelf.cancel || self.cancel', message: 'a cancelled run cannot be resumed; create a new BackupRun', fieldPath: '.cancel' },
    {
      rule: 'has(self.accounts) == has(oldSelf.accounts) && (!has(self.accounts) || self.accounts == oldSelf.accounts)',
      message: 'accounts is immutable',
      fieldPath: '.accounts',
    },
  ),
);

const RunStatistics = Type.Object(
  {
    added: ItemCounter,
    removed: ItemCounter,
    skipped: ItemCounter,
    addedSize: Type.Optional(Type.String({ maxLength: 64, description: 'Added bytes for humans, for example 1.2 GiB.' })),
  },
  { description: 'Added (new or changed), removed (gone from the source) and skipped items; skipped bytes count items only.' },
);

const Progress = Type.Object(
  {
    accountsTotal: Int64({ minimum: 0 }),
    accountsDone: Int64({ minimum: 0 }),
    itemsProcessed: Int64({ minimum: 0 }),
    bytesProcessed: Int64({ minimum: 0 }),
    percent: Type.Integer({ minimum: 0, maximum: 100 }),
    updateTime: Type.Optional(Timestamp('')),
  },
  { description: 'Progress of a run that is in progress.' },
);

const ShardStatus = Type.Object({
  index: Type.Integer({ minimum: 0 }),
  phase: StringEnum(RUN_PHASES),
  accounts: Type.Optional(Int64({ minimum: 0 })),
  snapshotId: Type.Optional(Type.String({ maxLength: 64 })),
  message: Type.Optional(Type.String({ maxLength: 4096 })),
});

export const BackupRunStatus = Type.Object({
  observedGeneration: Type.Optional(ObservedGeneration),
  conditions: Type.Optional(Conditions),
  phase: Type.Optional(StringEnum(RUN_PHASES)),
  reason: Type.Optional(Type.String({ maxLength: 1024, description: 'Reason from the reasons catalog when not Successful.' })),
  message: Type.Optional(Type.String({ maxLength: 32768 })),
  startTime: Type.Optional(Timestamp('When the worker started.')),
  completionTime: Type.Optional(Timestamp('When the run finished.')),
  duration: Type.Optional(Type.String({ maxLength: 64, description: 'Run time for humans, for example 1h12m.' })),
  jobName: Type.Optional(Type.String({ maxLength: 63 })),
  statistics: Type.Optional(RunStatistics),
  progress: Type.Optional(Progress),
  shards: Type.Optional(
    Type.Array(ShardStatus, { maxItems: 256, 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['index'] }),
  ),
  snapshotIds: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 256 })),
  skippedItemsReport: Type.Optional(
    Type.String({ maxLength: 1024, description: 'Repository path of the skipped-items CSV (kept one month).' }),
  ),
});

export type BackupRunSpec = Static<typeof BackupRunSpec>;
export type BackupRunStatus = Static<typeof BackupRunStatus>;
export type BackupRun = Resource<BackupRunSpec, BackupRunStatus>;

export const backupRunKind: KindDefinition = {
  kind: 'BackupRun',
  plural: 'backupruns',
  singular: 'backuprun',
  shortNames: ['sbrun', 'brun'],
  description: 'One backup attempt of a BackupPolicy, created by its schedule or by a user (backup now).',
  spec: BackupRunSpec,
  status: BackupRunStatus,
  printerColumns: [
    { name: 'Policy', type: 'string', jsonPath: '.spec.policyRef.name' },
    { name: 'Status', type: 'string', jsonPath: '.status.phase' },
    { name: 'Added', type: 'integer', jsonPath: '.status.statistics.added.count' },
    { name: 'Removed', type: 'integer', jsonPath: '.status.statistics.removed.count' },
    { name: 'Skipped', type: 'integer', jsonPath: '.status.statistics.skipped.count' },
    { name: 'Size', type: 'string', jsonPath: '.status.statistics.addedSize' },
    { name: 'Started', type: 'date', jsonPath: '.status.startTime' },
    { name: 'Duration', type: 'string', jsonPath: '.status.duration' },
    { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
    { name: 'Trigger', type: 'string', jsonPath: '.spec.trigger', priority: 1 },
    AGE_COLUMN,
  ],
};
