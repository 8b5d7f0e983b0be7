// Writes every file derived from the TypeScript source of truth (`npm run generate`):
//   crds/*.yaml and charts/saasbackup/crds/*.yaml   from the kind definitions,
//   charts/saasbackup/files/*-rules.yaml            from config/rbac/ (one set of RBAC rules),
//   the reasons table in README.md                  from src/api/reasons.ts.
// src/api/generate.test.ts fails when any of them is stale.
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { crdName, renderCrd } from './crd.ts';
import type { KindDefinition } from './kind.ts';
import { KINDS } from './kinds.ts';
import { REASONS } from './reasons.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HEADER = '# Generated from src/api by `npm run generate`. Do not edit by hand.\n';

export const REASONS_START = '<!-- reasons:start (generated from src/api/reasons.ts by `npm run generate`) -->';
export const REASONS_END = '<!-- reasons:end -->';

export function crdFileName(kind: KindDefinition): string {
  return `${crdName(kind)}.yaml`;
}

export function crdYaml(kind: KindDefinition): string {
  return HEADER + stringify(renderCrd(kind), { lineWidth: 0 });
}

export function reasonsTable(): string {
  const rows = Object.entries(REASONS).map(
    ([reason, entry]) => `| \`${reason}\` | ${entry.message} | ${entry.remediation} | ${entry.transient ? 'yes' : 'no'} |`,
  );
  return ['| Reason | Meaning | What to do | Transient |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

async function rulesOf(manifest: string): Promise<string> {
  const role = parse(await readFile(path.join(REPO_ROOT, manifest), 'utf8')) as { rules: unknown[] };
  return `# Generated from ${manifest} by \`npm run generate\`. Do not edit by hand.\n${stringify(role.rules, { lineWidth: 0 })}`;
}

async function readmeWithReasons(): Promise<string> {
  const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(REASONS_START);
  const end = readme.indexOf(REASONS_END);
  if (start < 0 || end < start) throw new Error(`README.md needs the markers ${REASONS_START} and ${REASONS_END}`);
  return `${readme.slice(0, start + REASONS_START.length)}\n${reasonsTable()}\n${readme.slice(end)}`;
}

/** Every generated file, by path relative to the repository root, with the content it must have. */
export async function generatedFiles(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const kind of KINDS) {
    files.set(`crds/${crdFileName(kind)}`, crdYaml(kind));
    files.set(`charts/saasbackup/crds/${crdFileName(kind)}`, crdYaml(kind));
  }
  files.set('charts/saasbackup/files/controller-rules.yaml', await rulesOf('config/rbac/role.yaml'));
  files.set('charts/saasbackup/files/leader-election-rules.yaml', await rulesOf('config/rbac/leader_election_role.yaml'));
  files.set('README.md', await readmeWithReasons());
  return files;
}

async function main(): Promise<void> {
  for (const [file, content] of await generatedFiles()) {
    const target = path.join(REPO_ROOT, file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
    console.error(`wrote ${file}`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
