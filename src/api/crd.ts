// Renders a KindDefinition into a CustomResourceDefinition (pure; the YAML files in crds/ are this output).
import { CATEGORY, GROUP, VERSION, type KindDefinition } from './kind.ts';
import { celRules } from './validation-rules.ts';

export interface CustomResourceDefinition {
  apiVersion: 'apiextensions.k8s.io/v1';
  kind: 'CustomResourceDefinition';
  metadata: { name: string; labels: Record<string, string> };
  spec: Record<string, unknown>;
}

/**
 * Drops TypeBox's symbol keys, and makes every property that has a default optional: the
 * apiserver fills it in, so users may leave it out, while the TypeScript type (which describes
 * stored objects) keeps it required.
 */
function plainSchema(schema: unknown): unknown {
  return withoutRequiredDefaults(JSON.parse(JSON.stringify(schema)));
}

function withoutRequiredDefaults(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutRequiredDefaults);
  if (!node || typeof node !== 'object') return node;
  const schema = Object.fromEntries(Object.entries(node).map(([key, value]) => [key, withoutRequiredDefaults(value)]));
  const properties = schema.properties as Record<string, { default?: unknown }> | undefined;
  if (Array.isArray(schema.required) && properties) {
    const required = (schema.required as string[]).filter((name) => properties[name]?.default === undefined);
    if (required.length > 0) schema.required = required;
    else delete schema.required;
  }
  return schema;
}

export function crdName(kind: KindDefinition): string {
  return `${kind.plural}.${GROUP}`;
}

/**
 * The apiserver lets a CRD restrict metadata.name only. A rule placed there reports the field as
 * `metadata.name`; a rule on the whole object would report `<nil>`, and the apiserver refuses a
 * root rule with `fieldPath: .metadata.name` unless metadata.name is declared like this anyway.
 */
function metadataSchema(kind: KindDefinition): Record<string, unknown> {
  if (!kind.nameRules?.length) return { type: 'object' };
  return { type: 'object', properties: { name: { type: 'string', 'x-kubernetes-validations': celRules(kind.nameRules) } } };
}

export function renderCrd(kind: KindDefinition): CustomResourceDefinition {
  const root: Record<string, unknown> = {
    type: 'object',
    description: kind.description,
    properties: {
      apiVersion: { type: 'string' },
      kind: { type: 'string' },
      metadata: metadataSchema(kind),
      spec: plainSchema(kind.spec),
      status: plainSchema(kind.status),
    },
    required: ['spec'],
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: crdName(kind), labels: { 'app.kubernetes.io/part-of': 'saasbackup' } },
    spec: {
      group: GROUP,
      names: {
        kind: kind.kind,
        listKind: `${kind.kind}List`,
        plural: kind.plural,
        singular: kind.singular,
        shortNames: kind.shortNames,
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: kind.printerColumns,
          schema: { openAPIV3Schema: root },
        },
      ],
    },
  };
}
