// BackupPolicy: what to protect, when, where, and for how long.
import { CRON_PATTERN, DEFAULT_SCHEDULE } from './cron.ts';
import { DURATION_PATTERN } from './duration.ts';
import { AGE_COLUMN, conditionColumn, type KindDefinition, type Resource } from './kind.ts';
import {
  cel,
  Conditions,
  Int64,
  LocalObjectReference,
  ObservedGeneration,
  SecretKeyReference,
  SecretName,
  StringEnum,
  Timestamp,
  Type,
  Url,
  type Static,
} from './schema.ts';
import {
  BACKUP_POLICY_NAME_RULES,
  BUCKET_NAME_PATTERN,
  BUCKET_NAME_RULES,
  KEY_PREFIX_RULES,
  LOCAL_PATH_RULES,
  S3_ENDPOINT_RULES,
  withRules,
} from './validation-rules.ts';

/** Services of both providers; which ones a provider offers is checked by the reconciler. */
export const SERVICES = ['mail', 'calendar', 'contacts', 'onedrive', 'sharepoint', 'teams', 'gmail', 'drive'] as const;
export type Service = (typeof SERVICES)[number];

export const MICROSOFT365_SERVICES: readonly Service[] = ['mail', 'calendar', 'contacts', 'onedrive', 'sharepoint', 'teams'];
export const GOOGLE_SERVICES: readonly Service[] = ['gmail', 'drive', 'calendar', 'contacts'];

const Duration = (description: string) => Type.String({ maxLength: 32, pattern: DURATION_PATTERN, description });

const AccountSelector = Type.Object(
  {
    address: Type.Optional(Type.String({ maxLength: 320, pattern: '^[^@\\s]+@[^@\\s]+$', description: 'Primary e-mail address (UPN).' })),
    id: Type.Optional(Type.String({ maxLength: 256, description: 'Directory object id of the user, mailbox or site.' })),
    group: Type.Optional(Type.String({ maxLength: 256, description: 'Group (name, address or id) whose members are selected.' })),
  },
  cel({
    rule: '[has(self.address), has(self.id), has(self.group)].filter(x, x).size() == 1',
    message: 'an account selector sets exactly one of address, id or group',
  }),
);

const Accounts = Type.Object(
  {
    mode: StringEnum(['all', 'include'] as const, {
      default: 'all',
      description: 'all: every discovered account (minus exclude); include: only the accounts listed in include.',
    }),
    include: Type.Optional(Type.Array(AccountSelector, { maxItems: 1000 })),
    exclude: Type.Optional(Type.Array(AccountSelector, { maxItems: 1000 })),
  },
  {
    default: { mode: 'all' },
    description: 'Which accounts of the tenant this policy protects.',
    ...cel({
      rule: "self.mode != 'include' || (has(self.include) && self.include.size() > 0)",
      message: 'mode include needs at least one entry in include',
      fieldPath: '.include',
    }),
  },
);

const S3Storage = Type.Object(
  {
    endpoint: Url(
      'S3 endpoint URL, the root of the S3 API, for example https://s3.eu-west-1.amazonaws.com or http://minio.backup:9000.',
      S3_ENDPOINT_RULES,
    ),
    bucket: Type.String({
      minLength: 3,
      maxLength: 63,
      pattern: BUCKET_NAME_PATTERN,
      description: 'Bucket name, following the S3 bucket naming rules.',
      ...withRules(BUCKET_NAME_RULES),
    }),
    prefix: Type.Optional(
      Type.String({
        maxLength: 512,
        pattern: '^([^/].*)?$',
        default: '',
        description: "Key prefix of the repository inside the bucket: '/'-separated segments, none empty or starting with '.'.",
        ...withRules(KEY_PREFIX_RULES),
      }),
    ),
    region: Type.Optional(Type.String({ maxLength: 64, default: 'us-east-1' })),
    credentialsSecretRef: Type.Object(
      {
        name: SecretName('Secret in the same namespace with keys AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.'),
      },
      { description: 'Credentials for the bucket.' },
    ),
    forcePathStyle: Type.Optional(Type.Boolean({ default: true, description: 'Use path-style addressing (MinIO, Ceph).' })),
  },
  { description: 'S3-compatible object storage.' },
);

const Storage = Type.Object(
  {
    s3: Type.Optional(S3Storage),
    local: Type.Optional(
      Type.Object(
        {
          path: Type.String({
            minLength: 1,
            maxLength: 4096,
            pattern: '^/',
            description: "Absolute directory path, without '..' segments.",
            ...withRules(LOCAL_PATH_RULES),
          }),
        },
        { description: 'A local directory, for development and the demo only.' },
      ),
    ),
    encryptionKeySecretRef: SecretKeyReference('key that wraps the repository master key', 'repository-key'),
    objectLock: Type.Optional(
      Type.Object(
        {
          mode: StringEnum(['GOVERNANCE', 'COMPLIANCE'] as const, { description: 'S3 Object Lock retention mode.' }),
          period: Duration('How long each written object is locked, for example 30d.'),
        },
        { description: 'Write packs, indexes and manifests with an S3 Object Lock retention date.' },
      ),
    ),
  },
  {
    description: 'Where the repository lives.',
    ...cel(
      { rule: 'has(self.s3) != has(self.local)', message: 'set exactly one of s3 or local' },
      { rule: '!has(self.objectLock) || has(self.s3)', message: 'objectLock needs s3 storage', fieldPath: '.objectLock' },
    ),
  },
);

const Retention = Type.Object(
  {
    keepLast: Type.Optional(Type.Integer({ minimum: 0, description: 'Keep the newest N snapshots.' })),
    keepHourly: Type.Optional(Type.Integer({ minimum: 0 })),
    keepDaily: Type.Optional(Type.Integer({ minimum: 0 })),
    keepWeekly: Type.Optional(Type.Integer({ minimum: 0 })),
    keepMonthly: Type.Optional(Type.Integer({ minimum: 0 })),
    keepYearly: Type.Optional(Type.Integer({ minimum: 0 })),
    maxAge: Type.Optional(
      Duration('Keep every snapshot younger than this, counted from the newest snapshot (restic --keep-within), for example 365d.'),
    ),
  },
  {
    description: 'How long non-current versions are kept (the current version of every item is always kept).',
    ...cel({
      rule: 'has(self.keepLast) || has(self.keepHourly) || has(self.keepDaily) || has(self.keepWeekly) || has(self.keepMonthly) || has(self.keepYearly) || has(self.maxAge)',
      message: 'retention needs at least one of keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly or maxAge',
    }),
  },
);

const ResourceList = Type.Object({
  cpu: Type.Optional(Type.String({ maxLength: 32, pattern: '^[0-9]+(\\.[0-9]+)?m?$' })),
  memory: Type.Optional(Type.String({ maxLength: 32, pattern: '^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$' })),
});

const RunTuning = Type.Object(
  {
    shards: Type.Integer({ minimum: 1, maximum: 256, default: 1, description: 'Pods of the Indexed Job that split the accounts.' }),
    concurrency: Type.Integer({ minimum: 1, maximum: 64, default: 4, description: 'Accounts processed at once per shard.' }),
    apiBudgetPercent: Type.Integer({
      minimum: 1,
      maximum: 100,
      default: 80,
      description: 'Share of the provider API quota a run may use, leaving room for other apps.',
    }),
    activeDeadlineSeconds: Type.Optional(Type.Integer({ minimum: 60, description: 'Stop the run after this long (Incomplete).' })),
    resources: Type.Optional(Type.Object({ requests: Type.Optional(ResourceList), limits: Type.Optional(ResourceList) })),
  },
  { default: {}, description: 'How a run is executed.' },
);

const HistoryLimits = Type.Object(
  {
    successfulRuns: Type.Integer({ minimum: 0, maximum: 100, default: 3, description: 'Finished successful BackupRuns to keep.' }),
    failedRuns: Type.Integer({ minimum: 0, maximum: 100, default: 3, description: 'Failed, incomplete or cancelled BackupRuns to keep.' }),
  },
  { default: {}, description: 'How many finished BackupRun objects stay in the cluster (snapshots are governed by retention).' },
);

export const BackupPolicySpec = Type.Object({
  connectorRef: LocalObjectReference('Connector'),
  services: Type.Array(StringEnum(SERVICES), {
    minItems: 1,
    maxItems: SERVICES.length,
    'x-kubernetes-list-type': 'set',
    description: 'Services to back up; they must be offered by the connector provider.',
  }),
  accounts: Type.Optional(Accounts),
  schedule: Type.String({
    maxLength: 128,
    default: DEFAULT_SCHEDULE,
    description: 'Cron schedule of backups (five fields or a macro such as @daily). Default: every 6 hours.',
    ...cel({
      rule: `self.matches(r'(?i)${CRON_PATTERN}')`,
      message: 'schedule must be a cron expression with five fields (minute hour day-of-month month day-of-week) or a macro such as @daily',
    }),
  }),
  timeZone: Type.Optional(
    Type.String({ maxLength: 64, pattern: '^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$', description: 'IANA time zone of the schedule; default UTC.' }),
  ),
  suspend: Type.Boolean({ default: false, description: 'Stop scheduling new runs; running ones finish.' }),
  storage: Storage,
  retention: Type.Optional(Retention),
  run: Type.Optional(RunTuning),
  historyLimits: Type.Optional(HistoryLimits),
});

const AccountsByState = Type.Object(
  {
    total: Int64({ minimum: 0 }),
    success: Int64({ minimum: 0 }),
    partial: Int64({ minimum: 0 }),
    failed: Int64({ minimum: 0 }),
    onboarding: Int64({ minimum: 0 }),
  },
  { description: 'Selected accounts by container status.' },
);

export const BackupPolicyStatus = Type.Object({
  observedGeneration: Type.Optional(ObservedGeneration),
  conditions: Type.Optional(Conditions),
  lastScheduleTime: Type.Optional(Timestamp('Scheduled time of the newest run created by the schedule.')),
  nextRunTime: Type.Optional(Timestamp('When the schedule creates the next run.')),
  lastRun: Type.Optional(
    Type.Object({
      name: Type.String({ maxLength: 253 }),
      phase: Type.String({ maxLength: 32 }),
      startTime: Type.Optional(Timestamp('')),
      completionTime: Type.Optional(Timestamp('')),
    }),
  ),
  lastSuccessfulTime: Type.Optional(Timestamp('Completion time of the newest successful run.')),
  accounts: Type.Optional(AccountsByState),
  objects: Type.Optional(
    Type.Object({ failed: Int64({ minimum: 0 }), excluded: Int64({ minimum: 0 }) }, { description: 'Object backup status report counts.' }),
  ),
  repository: Type.Optional(
    Type.Object({
      snapshots: Int64({ minimum: 0 }),
      sizeBytes: Int64({ minimum: 0 }),
      size: Type.Optional(Type.String({ maxLength: 64 })),
    }),
  ),
});

export type BackupPolicySpec = Static<typeof BackupPolicySpec>;
export type BackupPolicyStatus = Static<typeof BackupPolicyStatus>;
export type BackupPolicy = Resource<BackupPolicySpec, BackupPolicyStatus>;

export const backupPolicyKind: KindDefinition = {
  kind: 'BackupPolicy',
  plural: 'backuppolicies',
  singular: 'backuppolicy',
  shortNames: ['sbpolicy', 'bpol'],
  description: 'What to back up from a Connector, on which schedule, into which repository, and for how long.',
  spec: BackupPolicySpec,
  status: BackupPolicyStatus,
  printerColumns: [
    { name: 'Connector', type: 'string', jsonPath: '.spec.connectorRef.name' },
    { name: 'Schedule', type: 'string', jsonPath: '.spec.schedule' },
    { name: 'Suspend', type: 'boolean', jsonPath: '.spec.suspend' },
    conditionColumn('Ready', 'Ready', 'status'),
    conditionColumn('Protected', 'Protected', 'status'),
    { name: 'Last Run', type: 'string', jsonPath: '.status.lastRun.phase' },
    { name: 'Next Run', type: 'date', jsonPath: '.status.nextRunTime' },
    conditionColumn('Reason', 'Ready', 'reason', 1),
    AGE_COLUMN,
  ],
  nameRules: BACKUP_POLICY_NAME_RULES,
};
