// RestoreRequest: restore or export items from a snapshot.
import { RUN_PHASES } from './backup-run.ts';
import { SERVICES } from './backup-policy.ts';
import { AGE_COLUMN, type KindDefinition, type Resource } from './kind.ts';
import {
  cel,
  Conditions,
  ItemCounter,
  LocalObjectReference,
  ObservedGeneration,
  StringEnum,
  Timestamp,
  Type,
  type Static,
} from './schema.ts';

export const RESTORE_TARGETS = ['InPlace', 'AlternateAccount', 'NewFolder', 'Export'] as const;
export const CONFLICT_POLICIES = ['Skip', 'Overwrite', 'KeepBoth'] as const;
export const EXPORT_FORMATS = ['Zip', 'Mbox', 'Pst'] as const;

const Source = Type.Object(
  {
    snapshotId: Type.Optional(
      Type.String({ minLength: 8, maxLength: 64, pattern: '^[0-9a-f]+$', description: 'Snapshot id (or unique prefix).' }),
    ),
    pointInTime: Type.Optional(Timestamp('Use the newest snapshot taken at or before this time.')),
  },
  {
    description: 'Which snapshot to restore from.',
    ...cel({ rule: 'has(self.snapshotId) != has(self.pointInTime)', message: 'set exactly one of snapshotId or pointInTime' }),
  },
);

const Scope = Type.Object(
  {
    accounts: Type.Array(Type.String({ minLength: 1, maxLength: 320 }), {
      minItems: 1,
      maxItems: 1000,
      description: 'Accounts to restore.',
    }),
    services: Type.Optional(Type.Array(StringEnum(SERVICES), { maxItems: SERVICES.length, 'x-kubernetes-list-type': 'set' })),
    folders: Type.Optional(Type.Array(Type.String({ maxLength: 4096 }), { maxItems: 1000, description: 'Folder paths; default: all.' })),
    items: Type.Optional(Type.Array(Type.String({ maxLength: 1024 }), { maxItems: 10000, description: 'Item ids; default: all.' })),
  },
  { description: 'What to restore.' },
);

const Target = Type.Object(
  {
    type: StringEnum(RESTORE_TARGETS, { default: 'InPlace', description: 'Where restored items go.' }),
    account: Type.Optional(Type.String({ minLength: 1, maxLength: 320, description: 'Target account for AlternateAccount.' })),
    folderName: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Folder created for NewFolder restores.' })),
    export: Type.Optional(
      Type.Object({
        format: StringEnum(EXPORT_FORMATS, { default: 'Zip', description: 'Zip of EML/ICS/VCF/files, MBOX or PST.' }),
        linkExpiryHours: Type.Integer({ minimum: 1, maximum: 168, default: 24, description: 'Lifetime of the download link.' }),
      }),
    ),
  },
  {
    default: { type: 'InPlace' },
    description: 'Where restored items go.',
    ...cel(
      {
        rule: "self.type != 'AlternateAccount' || has(self.account)",
        message: 'target type AlternateAccount needs target.account',
        fieldPath: '.account',
      },
      {
        rule: "self.type != 'NewFolder' || has(self.folderName)",
        message: 'target type NewFolder needs target.folderName',
        fieldPath: '.folderName',
      },
      {
        rule: "self.type == 'Export' || !has(self.export)",
        message: 'target.export is only valid with target type Export',
        fieldPath: '.export',
      },
    ),
  },
);

export const RestoreRequestSpec = Type.Object(
  {
    policyRef: LocalObjectReference('BackupPolicy whose repository holds the snapshot'),
    source: Source,
    scope: Scope,
    target: Type.Optional(Target),
    conflictPolicy: StringEnum(CONFLICT_POLICIES, {
      default: 'Skip',
      description: 'When the target already holds the item with other content: Skip, Overwrite, or KeepBoth.',
    }),
    cancel: Type.Boolean({ default: false, description: 'Set to true to cancel the restore.' }),
  },
  cel(
    { rule: 'self.source == oldSelf.source && self.policyRef == oldSelf.policyRef', message: 'source and policyRef are immutable' },
    {
      rule: '!oldSelf.cancel || self.cancel',
      message: 'a cancelled restore cannot be resumed; create a new RestoreRequest',
      fieldPath: '.cancel',
    },
  ),
);

export const RestoreRequestStatus = Type.Object({
  observedGeneration: Type.Optional(ObservedGeneration),
  conditions: Type.Optional(Conditions),
  phase: Type.Optional(StringEnum(RUN_PHASES)),
  reason: Type.Optional(Type.String({ maxLength: 1024 })),
  message: Type.Optional(Type.String({ maxLength: 32768 })),
  snapshotId: Type.Optional(Type.String({ maxLength: 64, description: 'The snapshot resolved from source.' })),
  startTime: Type.Optional(Timestamp('')),
  completionTime: Type.Optional(Timestamp('')),
  duration: Type.Optional(Type.String({ maxLength: 64 })),
  jobName: Type.Optional(Type.String({ maxLength: 63 })),
  statistics: Type.Optional(Type.Object({ restored: ItemCounter, overwritten: ItemCounter, skipped: ItemCounter })),
  skippedItemsReport: Type.Optional(Type.String({ maxLength: 1024 })),
  export: Type.Optional(
    Type.Object({
      location: Type.String({ maxLength: 2048 }),
      url: Type.Optional(Type.String({ maxLength: 8192 })),
      expiresAt: Type.Optional(Timestamp('')),
    }),
  ),
});

export type RestoreRequestSpec = Static<typeof RestoreRequestSpec>;
export type RestoreRequestStatus = Static<typeof RestoreRequestStatus>;
export type RestoreRequest = Resource<RestoreRequestSpec, RestoreRequestStatus>;

export const restoreRequestKind: KindDefinition = {
  kind: 'RestoreRequest',
  plural: 'restorerequests',
  singular: 'restorerequest',
  shortNames: ['sbrestore', 'rreq'],
  description: 'A restore or export of items from a snapshot of a BackupPolicy repository.',
  spec: RestoreRequestSpec,
  status: RestoreRequestStatus,
  printerColumns: [
    { name: 'Policy', type: 'string', jsonPath: '.spec.policyRef.name' },
    { name: 'Target', type: 'string', jsonPath: '.spec.target.type' },
    { name: 'Status', type: 'string', jsonPath: '.status.phase' },
    { name: 'Restored', type: 'integer', jsonPath: '.status.statistics.restored.count' },
    { name: 'Skipped', type: 'integer', jsonPath: '.status.statistics.skipped.count' },
    { name: 'Started', type: 'date', jsonPath: '.status.startTime' },
    { name: 'Duration', type: 'string', jsonPath: '.status.duration' },
    { name: 'Reason', type: 'string', jsonPath: '.status.reason', priority: 1 },
    AGE_COLUMN,
  ],
};
