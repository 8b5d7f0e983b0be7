// `saasbackup repo ...` as an operator uses it: every subcommand against a directory repository,
// with the key from the environment, and the errors it prints.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repository/repository.ts';
import { FileStorage } from '../../src/repository/storage/file.ts';

const exec = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEY = 'cli-test-repository-key';
const dir = mkdtempSync(path.join(tmpdir(), 'saasbackup-cli-'));

async function repo(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(
      path.join(ROOT, 'node_modules/.bin/node'),
      [path.join(ROOT, 'src/cli/main.ts'), 'repo', ...args],
      {
        env: { ...process.env, SAASBACKUP_REPOSITORY: dir, SAASBACKUP_REPOSITORY_KEY: KEY, ...env },
        encoding: 'buffer',
      },
    ).then((r) => ({ stdout: r.stdout.toString('latin1'), stderr: r.stderr.toString() }));
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: Buffer; stderr: Buffer };
    return { code: e.code, stdout: e.stdout.toString('latin1'), stderr: e.stderr.toString() };
  }
}

const attachment = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31) % 256));
let firstSnapshot: string;

beforeAll(async () => {
  expect((await repo(['init'])).stdout).toContain('created repository');
  const repository = await Repository.open(new FileStorage(dir), { key: KEY });
  for (const [run, subject] of [
    ['r1', 'Quarterly report'],
    ['r2', 'Quarterly report v2'],
  ] as const) {
    const writer = await repository.snapshotWriter({ policy: 'daily', run, shard: 0 });
    await writer.addItem({
      account: 'alice@contoso.com',
      service: 'mail',
      id: 'AAMk-1',
      version: run,
      path: 'Inbox',
      name: subject,
      sender: 'bob@contoso.com',
      size: attachment.length,
      modified: '2026-11-20T09:00:00Z',
      content: async () => attachment,
    });
    const snapshot = await writer.commit();
    firstSnapshot ??= snapshot.id;
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('saasbackup repo', () => {
  it('lists snapshots', async () => {
    const { stdout } = await repo(['snapshots']);
    expect(stdout).toContain(firstSnapshot.slice(0, 12));
    expect(stdout).toContain('2 snapshots');
  });

  it('lists a snapshot from its catalog and prints an item byte for byte', async () => {
    const ls = await repo(['ls', firstSnapshot.slice(0, 10)]);
    expect(ls.stdout).toContain('Quarterly report');
    expect(ls.stdout).toContain('alice@contoso.com');
    const cat = await repo(['cat', firstSnapshot, 'alice@contoso.com', 'mail', 'AAMk-1']);
    expect(Buffer.from(cat.stdout, 'latin1').equals(attachment)).toBe(true);
  });

  it('checks, reports stats, forgets and prunes', async () => {
    expect((await repo(['check', '--read-data'])).stdout).toContain('no errors');
    expect((await repo(['stats'])).stdout).toMatch(/snapshots:\s+2/);
    const dry = await repo(['forget', '--keep-last', '1', '--dry-run']);
    expect(dry.stdout).toContain('would remove');
    const forgot = await repo(['forget', '--keep-last', '1', '--prune']);
    expect(forgot.stdout).toContain('1 kept, 1 removed');
    expect(forgot.stdout).toMatch(/deleted \d+ packs/);
    expect((await repo(['snapshots'])).stdout).toContain('1 snapshots');
    expect((await repo(['check', '--read-data'])).stdout).toContain('no errors');
  });

  it('explains what is wrong, with exit code 1', async () => {
    const wrongKey = await repo(['snapshots'], { SAASBACKUP_REPOSITORY_KEY: 'not-the-key' });
    expect(wrongKey.code).toBe(1);
    expect(wrongKey.stderr).toContain('does not open the repository');
    const missing = await repo(['snapshots'], { SAASBACKUP_REPOSITORY: path.join(dir, 'nothing') });
    expect(missing.stderr).toContain('there is no repository');
    const noKey = await repo(['snapshots'], { SAASBACKUP_REPOSITORY_KEY: '' });
    expect(noKey.stderr).toContain('SAASBACKUP_REPOSITORY_KEY');
    const again = await repo(['init']);
    expect(again.stderr).toContain('already exists');
    const unreachable = await repo(['snapshots'], {
      SAASBACKUP_REPOSITORY: 's3:http://127.0.0.1:1/backups/x',
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 'secret-never-shown',
    });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toContain('127.0.0.1:1');
    expect(unreachable.stderr).not.toContain('secret-never-shown');
    expect(unreachable.stderr).not.toMatch(/\n\s+at /);
  });
});
