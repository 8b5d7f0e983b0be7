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

  it('bounds every string, list and map that users or the operator write', () => {
    const unbounded: string[] = [];
    const walk = (node: Record<string, unknown>, where: string): void => {
      if (node.type === 'string' && node.maxLength === undefined && node.enum === undefined)
        unbounded.push(`${where}: string without maxLength`);
      if (node.type === 'array' && node.maxItems === undefined) unbounded.push(`${where}: array without maxItems`);
      if (node.additionalProperties && node.maxProperties === undefined) unbounded.push(`${where}: map without maxProperties`);
      for (const [name, child] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>))
        walk(child, `${where}.${name}`);
      if (node.items) walk(node.items as Record<string, unknown>, `${where}[]`);
      if (node.additionalProperties && typeof node.additionalProperties === 'object')
        walk(node.additionalProperties as Record<string, unknown>, `${where}[*]`);
    };
    for (const kind of KINDS) {
      const root = parse(crdYaml(kind)).spec.versions[0].schema.openAPIV3Schema;
      // apiVersion, kind and metadata are the apiserver's to check.
      walk(root.properties.spec, `${kind.kind}.spec`);
      walk(root.properties.status, `${kind.kind}.status`);
    }
    expect(unbounded).toEqual([]);
  });
});
