// Building blocks for the kinds' OpenAPI schemas. Each kind is written once, in TypeScript, with
// TypeBox: the same value is the CRD schema (src/api/generate.ts renders crds/) and, through
// `Static<>`, the TypeScript type the controller uses. A test fails when crds/ is stale.
import { Type, TypeRegistry, type TSchema, type SchemaOptions, type TUnsafe } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import {
  DNS_SUBDOMAIN_PATTERN,
  HTTPS_URL_RULES,
  OBJECT_NAME_MAX_LENGTH,
  SECRET_KEY_MAX_LENGTH,
  SECRET_KEY_PATTERN,
  SECRET_KEY_RULES,
  SECRET_NAME_RULES,
  URL_PATTERN,
  URL_RULES,
  withRules,
  type CelRule,
  type FieldRule,
} from './validation-rules.ts';

export type { CelRule };
export { DNS_SUBDOMAIN_PATTERN };

export function cel(...rules: CelRule[]): { 'x-kubernetes-validations': CelRule[] } {
  return { 'x-kubernetes-validations': rules };
}

/** A string limited to the listed values (Kubernetes schemas have no `const`/`anyOf` unions). */
export function StringEnum<const T extends readonly string[]>(values: T, options: SchemaOptions = {}): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/** A map of string keys to values of one schema (Kubernetes does not accept `patternProperties`). */
export function StringMap<T extends TSchema>(values: T, options: SchemaOptions = {}): TUnsafe<Record<string, T['static']>> {
  return Type.Unsafe<Record<string, T['static']>>({ type: 'object', additionalProperties: values, ...options });
}

// The two raw shapes above, checkable by TypeBox's Value (the worker validates the manifests it is
// given with the same schemas the API server uses).
TypeRegistry.Set('Unsafe', (schema: { enum?: unknown[]; type?: string; additionalProperties?: TSchema }, value: unknown) => {
  if (schema.enum) return schema.enum.includes(value);
  if (schema.type === 'object' && schema.additionalProperties) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
    const values = schema.additionalProperties;
    return Object.values(value).every((v) => Value.Check(values, v));
  }
  return true;
});

export function ObjectName(description: string) {
  return Type.String({ minLength: 1, maxLength: OBJECT_NAME_MAX_LENGTH, pattern: DNS_SUBDOMAIN_PATTERN, description });
}

/** The name of a Secret in the same namespace; every Secret reference of every kind uses it. */
export function SecretName(description: string) {
  return Type.String({
    minLength: 1,
    maxLength: OBJECT_NAME_MAX_LENGTH,
    pattern: DNS_SUBDOMAIN_PATTERN,
    description,
    ...withRules(SECRET_NAME_RULES),
  });
}

/** A key of a Secret: a file name in the Secret's mount, never a path; every Secret key of every kind uses it. */
export function SecretKey(description: string, defaultKey: string) {
  return Type.String({
    minLength: 1,
    maxLength: SECRET_KEY_MAX_LENGTH,
    pattern: SECRET_KEY_PATTERN,
    default: defaultKey,
    description,
    ...withRules(SECRET_KEY_RULES),
  });
}

/**
 * A reference to another object by name. There is deliberately no namespace field: the namespace
 * is the tenancy boundary, so every reference resolves in the referring object's own namespace.
 */
export function LocalObjectReference(what: string) {
  return Type.Object(
    { name: ObjectName(`Name of the ${what} in the same namespace.`) },
    { description: `Reference to a ${what} in the same namespace.` },
  );
}

/** A key of a Secret in the same namespace. */
export function SecretKeyReference(what: string, defaultKey: string) {
  return Type.Object(
    {
      name: SecretName(`Name of the Secret, in the same namespace, that holds the ${what}.`),
      key: SecretKey(`Key in the Secret whose value is the ${what}.`, defaultKey),
    },
    { description: `The ${what}, read from a Secret in the same namespace.` },
  );
}

/** An http or https URL without credentials; `rules` add to that (an override of a SaaS endpoint must be https). */
export function Url(description: string, rules: readonly FieldRule[] = URL_RULES) {
  return Type.String({ minLength: 1, maxLength: 2048, pattern: URL_PATTERN, description, ...withRules(rules) });
}

/** An override of a SaaS endpoint: https only, no credentials. */
export const HttpsUrl = (description: string) => Url(description, HTTPS_URL_RULES);

export const Timestamp = (description: string) => Type.String({ format: 'date-time', maxLength: 64, description });

export const Int64 = (options: SchemaOptions = {}) => Type.Integer({ format: 'int64', ...options });

/** metav1.Condition, as every Kubernetes API writes it. */
export const Condition = Type.Object({
  type: Type.String({
    maxLength: 316,
    pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$',
    description: 'Type of condition in CamelCase, for example Ready or Succeeded.',
  }),
  status: StringEnum(['True', 'False', 'Unknown'] as const),
  observedGeneration: Type.Optional(Int64({ minimum: 0, description: 'The .metadata.generation the condition was set from.' })),
  lastTransitionTime: Type.String({ format: 'date-time', maxLength: 64, description: 'Last time the status changed.' }),
  reason: Type.String({
    minLength: 1,
    maxLength: 1024,
    pattern: '^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$',
    description: 'Reason from the reasons catalog, in CamelCase.',
  }),
  message: Type.String({ maxLength: 32768, description: 'Human-readable explanation and, where needed, what to do.' }),
});

export const Conditions = Type.Array(Condition, {
  maxItems: 16,
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
  description: 'Current state of the object as standard conditions.',
});

export const ObservedGeneration = Int64({ minimum: 0, description: 'The .metadata.generation the status was computed from.' });

/** Count and bytes of one class of items (added, removed, skipped, restored, ...). */
export const ItemCounter = Type.Object({
  count: Int64({ minimum: 0, default: 0 }),
  bytes: Int64({ minimum: 0, default: 0 }),
});

export type { Static } from '@sinclair/typebox';
export { Type };
