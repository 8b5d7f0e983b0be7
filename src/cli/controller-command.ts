// `saasbackup controller`: builds the Manager from flags and runs it until SIGTERM/SIGINT.
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger, type LogLevel } from '../logging/logger.ts';
import { Manager } from '../manager/manager.ts';

export interface ControllerFlags {
  kubeconfig?: string;
  leaseNamespace: string;
  leaseName: string;
  identity?: string;
  leaseDuration: number;
  renewDeadline: number;
  retryPeriod: number;
  concurrency: number;
  port: number;
  bindAddress: string;
  logLevel: LogLevel;
}

export async function runController(flags: ControllerFlags): Promise<void> {
  const logger = createLogger('controller', flags.logLevel);
  const kubeConfig = new KubeConfig();
  if (flags.kubeconfig) kubeConfig.loadFromFile(flags.kubeconfig);
  else kubeConfig.loadFromDefault();
  const identity = flags.identity ?? process.env.POD_NAME ?? `${hostname()}-${process.pid}`;

  const manager = new Manager({
    kubeConfig,
    logger,
    identity,
    leaseNamespace: flags.leaseNamespace,
    leaseName: flags.leaseName,
    leaseDurationMs: flags.leaseDuration * 1000,
    renewDeadlineMs: flags.renewDeadline * 1000,
    retryPeriodMs: flags.retryPeriod * 1000,
    concurrency: flags.concurrency,
    port: flags.port,
    host: flags.bindAddress,
  });

  let exiting = false;
  const stop = (signal: string) => {
    if (exiting) return;
    exiting = true;
    logger.info({ signal }, 'received signal');
    manager.shutdown().then(
      () => process.exit(0),
      (error: Error) => {
        logger.error({ err: error.message }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  void manager.leadershipLost.then(() => {
    // controller-runtime does the same: a replica that lost the Lease exits and restarts as a standby.
    logger.error({ identity }, 'exiting after losing leadership');
    process.exit(1);
  });

  await manager.start();
}
