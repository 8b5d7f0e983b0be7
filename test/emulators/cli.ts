// `npm run emulator -- microsoft --seed 1 --users 20`: starts an emulator on a free 127.0.0.1
// port and prints, as the first line of standard output, the JSON a client needs to connect.
// Runs until SIGINT or SIGTERM.
import { Command, InvalidArgumentError } from 'commander';
import { startMicrosoftEmulator } from './microsoft/index.ts';

function count(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number');
  return n;
}

function preset(value: string): string {
  if (value !== 'microsoft' && value !== 'off') throw new InvalidArgumentError("expected 'microsoft' or 'off'");
  return value;
}

const program = new Command('emulator').description('Emulators of the SaaS APIs saasbackup backs up');

program
  .command('microsoft')
  .description('Entra ID and Microsoft Graph for a generated tenant')
  .option('--seed <seed>', 'tenant generator seed', '1')
  .option('--users <n>', 'licensed users', count, 5)
  .option('--shared-mailboxes <n>', 'shared mailboxes', count, 1)
  .option('--groups <n>', 'groups', count, 3)
  .option('--sites <n>', 'SharePoint sites', count, 2)
  .option('--teams <n>', 'teams', count, 1)
  .option('--mail <n>', 'messages per mailbox', count, 40)
  .option('--events <n>', 'events per mailbox', count, 10)
  .option('--contacts <n>', 'contacts per mailbox', count, 10)
  .option('--files <n>', 'files per OneDrive', count, 20)
  .option('--unlicensed-users <n>', 'users without a license (no mailbox, no drive)', count, 1)
  .option('--mail-folders <n>', 'user-created mail folders per mailbox', count, 3)
  .option('--site-files <n>', 'files per site document library', count, 10)
  .option('--channel-messages <n>', 'top-level messages per channel', count, 5)
  .option('--mail-median-bytes <n>', 'median message size', count)
  .option('--size-sigma <x>', 'spread of sizes (sigma of the log-normal; 0 for equal sizes)', Number)
  .option('--throttle <preset>', "'microsoft' for Microsoft's limits, 'off'", preset, 'off')
  .option('--latency-ms <n>', 'latency added to every request', count, 0)
  .option('--port <n>', 'port (0: a free one)', count, 0)
  .action(async (o: Record<string, unknown>) => {
    const emulator = await startMicrosoftEmulator({
      tenant: {
        seed: String(o['seed']),
        users: o['users'] as number,
        sharedMailboxes: o['sharedMailboxes'] as number,
        groups: o['groups'] as number,
        sites: o['sites'] as number,
        teams: o['teams'] as number,
        unlicensedUsers: o['unlicensedUsers'] as number,
        mailFolders: o['mailFolders'] as number,
        items: {
          mail: o['mail'] as number,
          events: o['events'] as number,
          contacts: o['contacts'] as number,
          files: o['files'] as number,
          siteFiles: o['siteFiles'] as number,
          channelMessages: o['channelMessages'] as number,
        },
        sizes: {
          ...(o['mailMedianBytes'] ? { mailMedianBytes: o['mailMedianBytes'] as number } : {}),
          ...(o['sizeSigma'] !== undefined ? { sigma: o['sizeSigma'] as number } : {}),
        },
      },
      ...(o['throttle'] === 'microsoft' ? { throttle: 'microsoft' as const } : {}),
      latencyMs: o['latencyMs'] as number,
      port: o['port'] as number,
    });
    process.stdout.write(`${JSON.stringify(emulator.connection)}\n`);
    const stop = (): void => {
      void emulator.close().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

await program.parseAsync(process.argv);
