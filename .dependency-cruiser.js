// The layer rules of issue 14, checked by `npm run lint:deps` (dependency-cruiser reads this file).
//
// What is cruised: src/, test/ and bench/. No cycle is allowed anywhere in them. The layer rules
// hold for production code only: tests (`*.test.ts` next to the code, `*.test-support.ts`,
// src/repository/testing/, and everything under test/ and bench/) may reach across layers to set a
// scene, but nothing they import can close a cycle.
//
// Type-only imports count: `tsPreCompilationDeps: true` makes dependency-cruiser read the TypeScript
// source before compilation, so `import type` and `import { type X }` are edges like any other.

const TEST_CODE = ['\\.test\\.ts$', '\\.test-support\\.ts$', '^src/repository/testing/'];

// The kind modules: each defines one custom resource (its schema, types and KindDefinition), and
// kinds.ts lists them all. The generic API building blocks (kind.ts, schema.ts, reasons.ts, crd.ts,
// cron.ts, duration.ts) are not kinds.
const KIND_MODULES = '^src/api/(connector|backup-policy|backup-run|restore-request|object-exclusion|kinds)\\.ts$';

export default {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment:
        'No import cycle, type-only imports included: a cycle means two modules are one concept or a contract sits in the wrong one.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'repository-below-everything',
      severity: 'error',
      comment: 'src/repository/ is the storage engine: it imports nothing of providers, worker, controllers, runtime or manager.',
      from: { path: '^src/repository/', pathNot: TEST_CODE },
      to: { path: '^src/(providers|worker|controllers|runtime|manager)/' },
    },
    {
      name: 'providers-below-worker',
      severity: 'error',
      comment: 'src/providers/ reads a SaaS through its own contract: it imports nothing of worker, repository, controllers or runtime.',
      from: { path: '^src/providers/', pathNot: TEST_CODE },
      to: { path: '^src/(worker|repository|controllers|runtime)/' },
    },
    {
      // Reading of "src/runtime/ imports no kind from src/api/ or src/controllers/": the runtime is the
      // kind-agnostic controller machinery (informers, queue, conditions, status, events, leases). It
      // must not reach a kind module of src/api/, directly or through anything that pulls one in (the
      // next rule), and it imports nothing of src/controllers/: every module there is a kind's
      // reconciler or exists to serve the reconcilers, and they all build on the runtime.
      name: 'runtime-not-to-controllers',
      severity: 'error',
      comment: 'src/runtime/ is kind-agnostic: it imports nothing of src/controllers/.',
      from: { path: '^src/runtime/', pathNot: TEST_CODE },
      to: { path: '^src/controllers/' },
    },
    {
      name: 'runtime-reaches-no-kind',
      severity: 'error',
      comment: 'src/runtime/ is kind-agnostic: no kind module of src/api/ is reachable from it, directly or through another module.',
      from: { path: '^src/runtime/', pathNot: TEST_CODE },
      to: { path: KIND_MODULES, reachable: true },
    },
    {
      // "Imports only src/api/" is read for the project's own code: the API is built on TypeBox and
      // generate.ts writes YAML with node:fs, so npm packages and Node built-ins stay allowed.
      name: 'api-imports-only-api',
      severity: 'error',
      comment: 'src/api/ is the contract every other layer builds on: of the project it imports only src/api/.',
      from: { path: '^src/api/', pathNot: TEST_CODE },
      to: { pathNot: ['^src/api/', 'node_modules/'], dependencyTypesNot: ['core'] },
    },
    {
      // Not a layer rule: an import dependency-cruiser cannot resolve has no target, so no rule above
      // could see it. This keeps the check from passing by being blind.
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'Every import resolves to a file or a package.',
      from: { path: '^(src|test|bench)/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Not anchored: in a worktree node_modules is a symlink, and paths are reported through its target.
    doNotFollow: { path: 'node_modules/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
    progress: { type: 'none' },
  },
};
