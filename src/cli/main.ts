#!/usr/bin/env node
// The one entry point of the image: `controller` (the default in the Dockerfile), `worker` (a
// backup, run by hand today: the operator does not create worker Jobs yet), and operator commands.
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { runController } from './controller-command.ts';
import { EXIT_CODES_HELP, EXIT_USAGE, workerBackupCommand, type WorkerBackupOptions } from './worker-command.ts';
import { JobSpecError } from '../worker/job-spec.ts';
import { repoCommand } from './repo/commands.ts';
import { isRepositoryError } from '../repository/errors.ts';
import { UsageError } from './repo/location.ts';
import { LOG_LEVELS } from '../logging/logger.ts';

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new InvalidArgumentError('expected a non-negative whole number');
  return number;
}

const program = new Command()
  .name('saasbackup')
  .description('Back up Microsoft 365 and Google Workspace into S3-compatible storage, driven by Kubernetes resources.')
  .showHelpAfterError();

program
  .command('controller')
  .description('Run the controller: watch saasbackup.io resources and reconcile them (one active replica through a Lease).')
  .option('--kubeconfig <path>', 'kubeconfig file (default: in-cluster config, then $KUBECONFIG, then ~/.kube/config)')
  .option('--lease-namespace <namespace>', 'namespace of the leader-election Lease', process.env.POD_NAMESPACE ?? 'saasbackup-system')
  .option('--lease-name <name>', 'name of the leader-election Lease', 'saasbackup-controller')
  .option('--identity <id>', 'identity of this replica in the Lease (default: $POD_NAME, else the host name and process id)')
  .option('--lease-duration <seconds>', 'how long a Lease stays valid without renewal', positiveInteger, 15)
  .option('--renew-deadline <seconds>', 'how long the leader keeps trying to renew before it stops', positiveInteger, 10)
  .option('--retry-period <seconds>', 'time between attempts to acquire or renew', positiveInteger, 2)
  .option('--concurrency <n>', 'reconciles in flight at most, per kind', positiveInteger, 4)
  .option('--port <port>', 'port of /healthz, /readyz and /metrics (0 picks a free one)', positiveInteger, 8080)
  .option('--bind-address <address>', 'address the HTTP port listens on', '0.0.0.0')
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
  .action(runController);

const worker = program
  .command('worker')
  .description(
    'Run one task of the worker: backup (restore, export, prune and check come later). Run by hand today; the operator does not create worker Jobs yet.',
  )
  // A usage error of the worker exits 2, like any other input it cannot use (1 is a crash).
  .exitOverride();
worker
  .command('backup')
  .description('Back up one shard of a BackupRun into the policy repository.')
  .addHelpText('after', `\n${EXIT_CODES_HELP}`)
  .requiredOption('--connector <file>', 'the Connector, as JSON or YAML (metadata and spec)')
  .requiredOption('--policy <file>', 'the BackupPolicy, as JSON or YAML (metadata and spec)')
  .requiredOption('--run <name>', 'name of the BackupRun')
  .option('--shard-index <n>', 'this shard (default $JOB_COMPLETION_INDEX, else 0)')
  .option('--shard-count <n>', 'shards of the run (default $SAASBACKUP_SHARD_COUNT, else 1)')
  .option(
    '--secrets-dir <dir>',
    'mounted Secrets: connector/, storage/ and repository-key/, one file per key',
    '/var/run/secrets/saasbackup',
  )
  .option('--accounts <list>', 'only these accounts (addresses or ids, comma-separated): a BackupRun spec.accounts')
  .option('--exclusions <file>', "the policy's excluded object versions, JSON {objects: [{account, objectId, version}]}")
  .option('--progress-file <file>', 'where to write progress (JSON) while the run goes on')
  .option('--result-file <file>', 'where to write the result (JSON); default the termination log when there is one')
  .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS).default('info'))
  .action(async (options: WorkerBackupOptions) => {
    process.exitCode = await workerBackupCommand(options);
  });

program
  .command('demo')
  .description('How to run the end-to-end demo (it needs the emulators, which live in a source checkout).')
  .action(() => {
    console.log(`The demo backs up an emulated Microsoft 365 tenant into a local repository, changes the tenant,
backs it up again incrementally and prints the job monitor. It uses the emulators under test/, which
are not part of the image: from a source checkout, run

  npm ci && npm run demo`);
  });

program.addCommand(repoCommand());

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // Commander has printed its message already (or the help, with exit code 0).
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    // Known problems get their message only; anything else also its stack, to report a bug.
    if (isRepositoryError(error) || error instanceof UsageError || error instanceof JobSpecError)
      console.error(`saasbackup: ${error.message}`);
    else console.error(error);
    process.exitCode = error instanceof JobSpecError || error instanceof UsageError ? EXIT_USAGE : 1;
  }
}
