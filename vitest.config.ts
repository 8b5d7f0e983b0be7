import { defineConfig } from 'vitest/config';

// Three projects: unit (fast tests next to the code, src/**/*.test.ts), emulators (the SaaS
// emulators and the providers against them, in process) and integration (the rest of test/, against
// a real etcd + kube-apiserver + MinIO started once by test/envtest/global-setup.ts).
export default defineConfig({
  test: {
    reporters: ['default', './test/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          // Contract tests of the SaaS emulators, and the providers against them, with the real client
          // libraries: no cluster needed.
          name: 'emulators',
          include: ['test/emulators/**/*.test.ts', 'test/providers/**/*.test.ts'],
          environment: 'node',
          testTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          exclude: ['test/emulators/**', 'test/providers/**'],
          environment: 'node',
          globalSetup: ['test/envtest/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // One apiserver is shared; files run one after another so they do not fight over it.
          fileParallelism: false,
        },
      },
    ],
  },
});
