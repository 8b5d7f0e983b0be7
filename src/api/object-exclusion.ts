// ObjectExclusion: exclude named failed object versions from future backups. Deleting it is the undo.
import { AGE_COLUMN, conditionColumn, type KindDefinition, type Resource } from './kind.ts';
import { Conditions, Int64, LocalObjectReference, ObservedGeneration, Type, type Static } from './schema.ts';

const ObjectVersion = Type.Object({
  account: Type.Optional(Type.String({ maxLength: 320, description: 'Account that holds the object (address or id).' })),
  objectId: Type.String({ minLength: 1, maxLength: 1024, description: 'Object id from the object backup status report.' }),
  version: Type.String({
    minLength: 1,
    maxLength: 1024,
    description: 'The failed version to exclude; a newer version is backed up again.',
  }),
});

export const ObjectExclusionSpec = Type.Object({
  policyRef: LocalObjectReference('BackupPolicy'),
  objects: Type.Array(ObjectVersion, { minItems: 1, maxItems: 1000, description: 'Failed object versions to exclude.' }),
  comment: Type.Optional(Type.String({ maxLength: 1024, description: 'Why these objects are excluded (for audit).' })),
});

const IgnoredObject = Type.Object({
  objectId: Type.String({ maxLength: 1024 }),
  version: Type.String({ maxLength: 1024 }),
  reason: Type.String({ maxLength: 1024, description: 'Why the exclusion was ignored, for example the version is not in Failure.' }),
});

export const ObjectExclusionStatus = Type.Object({
  observedGeneration: Type.Optional(ObservedGeneration),
  conditions: Type.Optional(Conditions),
  excludedCount: Type.Optional(Int64({ minimum: 0 })),
  ignoredCount: Type.Optional(Int64({ minimum: 0 })),
  excluded: Type.Optional(
    Type.Array(Type.Object({ objectId: Type.String({ maxLength: 1024 }), version: Type.String({ maxLength: 1024 }) }), { maxItems: 1000 }),
  ),
  ignored: Type.Optional(Type.Array(IgnoredObject, { maxItems: 1000 })),
});

export type ObjectExclusionSpec = Static<typeof ObjectExclusionSpec>;
export type ObjectExclusionStatus = Static<typeof ObjectExclusionStatus>;
export type ObjectExclusion = Resource<ObjectExclusionSpec, ObjectExclusionStatus>;

export const objectExclusionKind: KindDefinition = {
  kind: 'ObjectExclusion',
  plural: 'objectexclusions',
  singular: 'objectexclusion',
  shortNames: ['sbexclude', 'oexcl'],
  description: 'Excludes named failed object versions of a BackupPolicy from future backups.',
  spec: ObjectExclusionSpec,
  status: ObjectExclusionStatus,
  printerColumns: [
    { name: 'Policy', type: 'string', jsonPath: '.spec.policyRef.name' },
    conditionColumn('Ready', 'Ready', 'status'),
    { name: 'Excluded', type: 'integer', jsonPath: '.status.excludedCount' },
    { name: 'Ignored', type: 'integer', jsonPath: '.status.ignoredCount' },
    AGE_COLUMN,
  ],
};
