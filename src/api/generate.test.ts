import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { crdFileName, crdYaml, generatedFiles, REPO_ROOT } from './generate.ts';
import { KINDS } from './kinds.ts';

describe('generated files', () => {
  it.each(['crds', 'charts/saasbackup/crds'])('%s holds exactly one CRD per kind', async (dir) => {
    const files = (await readdir(path.join(REPO_ROOT, dir))).filter((file) => file.endsWith('.yaml')).sort();
    expect(files).toEqual(KINDS.map(crdFileName).sort());
  });

  it('are up to date with src/api and config/rbac (run `npm run generate`)', async () => {
    for (const [file, content] of await generatedFiles()) {
      expect(await readFile(path.join(REPO_ROOT, file), 'utf8'), file).toBe(content);
    }
  });
});

describe('CRDs', () => {
  it('gives every kind the status subresource, the saasbackup category and short names', () => {
    for (const kind of KINDS) {
      const crd = parse(crdYaml(kind));
      const version = crd.spec.versions[0];
      expect(version.subresources).toEqual({ status: {} });
      expect(crd.spec.names.categories).toEqual(['saasbackup']);
      expect(crd.spec.names.shortNames.length).toBeGreaterThan(0);
      expect(crd.spec.scope).toBe('Namespaced');
      const status = version.schema.openAPIV3Schema.properties.status.properties;
      expect(status.conditions['x-kubernetes-list-map-keys']).toEqual(['type']);
      expect(status.observedGeneration.type).toBe('integer');
    }
  });

  it('gives every CEL rule a message and never uses schema constructs Kubernetes rejects', () => {
    const walk = (node: unknown, where: string): void => {
      if (Array.isArray(node)) return node.forEach((child, index) => walk(child, `${where}[${index}]`));
      if (!node || typeof node !== 'object') return;
      const schema = node as Record<string, unknown>;
      for (const forbidden of ['anyOf', 'oneOf', 'allOf', 'const', 'patternProperties', '$id', '$ref']) {
        expect(schema[forbidden], `${where}.${forbidden}`).toBeUndefined();
      }
      for (const rule of (schema['x-kubernetes-validations'] as { message?: string }[] | undefined) ?? []) {
        expect(rule.message, `${where} rule message`).toBeTruthy();
      }
      for (const [key, child] of Object.entries(schema)) walk(child, `${where}.${key}`);
    };
    for (const kind of KINDS) walk(parse(crdYaml(kind)).spec.versions[0].schema, kind.kind);
  });
});
