// Crash safety: a writer process killed with SIGKILL at random points, 20 times. Afterwards
// `check --read-data` finds no error, every snapshot committed before is intact, and the next
// run completes while reusing what the killed runs had checkpointed.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { check } from '../../src/repository/check.ts';
import { prune } from '../../src/repository/prune.ts';
import { Repository } from '../../src/repository/repository.ts';
import { FileStorage } from '../../src/repository/storage/file.ts';
import { crashItemContent } from './crash-items.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const NODE = path.join(ROOT, 'node_modules/.bin/node');
const WRITER = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
const KEY = 'crash-test-key';
const ITEMS = 1500;
const KILLS = 20;
const dir = mkdtempSync(path.join(tmpdir(), 'saasbackup-crash-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome {
  killed: boolean;
  result?: {
    committed: string;
    downloads: number;
    resumedFrom: number;
    stats: { items: number; itemsAdded: number; itemsUnchanged: number };
  };
  stderr: string;
}

/** Checkpoint manifests in the repository now. */
function checkpointFiles(): Set<string> {
  try {
    return new Set(readdirSync(path.join(dir, 'checkpoints')).filter((name) => !name.startsWith('.tmp-')));
  } catch {
    return new Set();
  }
}

/** Runs the writer; kills it after `killAfterMs`, or once `killWhen` says so (asked every 10 ms). */
function runWriter(run: string, killAfterMs?: number, killWhen?: () => boolean): Promise<Outcome> {
  return new Promise((resolve) => {
    const child = spawn(NODE, [WRITER, dir, KEY, String(ITEMS), run], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    const poll = killWhen === undefined ? undefined : setInterval(() => killWhen() && child.kill('SIGKILL'), 10);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      clearInterval(poll);
      resolve({
        killed: signal === 'SIGKILL',
        ...(stdout.trim() ? { result: JSON.parse(stdout.trim().split('\n').at(-1)!) } : {}),
        stderr,
      });
    });
  });
}

async function verifySnapshot(repository: Repository, id: string): Promise<number> {
  let verified = 0;
  for await (const item of repository.items(await repository.snapshot(id))) {
    const index = Number(item.id.slice('item-'.length));
    expect((await repository.readContent(item)).equals(crashItemContent(index)), item.id).toBe(true);
    verified += 1;
  }
  return verified;
}

describe('a writer killed with SIGKILL at random points', () => {
  it(`leaves a consistent repository after ${KILLS} kills, keeps every committed snapshot, and the next run resumes`, async () => {
    await Repository.init(new FileStorage(dir), { key: KEY });
    const committed: string[] = [];
    let seed = 12345;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    let kills = 0;
    let attempt = 0;
    let run = 'run-0';
    while (kills < KILLS) {
      attempt += 1;
      if (attempt > 5 * KILLS) throw new Error(`only ${kills} kills in ${attempt} attempts: the writer finishes too fast to be killed`);
      // A killed run is retried under the same name (as the Job's next pod would); a committed one is followed by a new run.
      // The last one is killed once it has written a checkpoint of its own, however slow the machine.
      const lastKill = kills === KILLS - 1;
      const before = checkpointFiles();
      const outcome = lastKill
        ? await runWriter(run, undefined, () => [...checkpointFiles()].some((name) => !before.has(name)))
        : await runWriter(run, 100 + Math.floor(random() * 900));
      if (outcome.killed) kills += 1;
      else if (outcome.result) {
        committed.push(outcome.result.committed);
        run = `run-${attempt}`;
      } else throw new Error(`writer failed without being killed:\n${outcome.stderr}`);
    }

    const repository = await Repository.open(new FileStorage(dir), { key: KEY });
    const report = await check(repository, { readData: true });
    expect(report.errors).toEqual([]);
    expect(report.affected).toEqual([]);
    for (const id of committed) expect(await verifySnapshot(repository, id)).toBe(ITEMS);

    // Once the killed writers' locks have expired, prune removes what they left and loses nothing.
    const later = await Repository.open(new FileStorage(dir), { key: KEY, clock: () => new Date(Date.now() + 6 * 60_000) });
    await prune(later, { unindexedGraceMs: 0 });
    expect(
      readdirSync(dir, { recursive: true })
        .map(String)
        .filter((name) => path.basename(name).startsWith('.tmp-')),
    ).toEqual([]);
    const afterPrune = await Repository.open(new FileStorage(dir), { key: KEY });
    expect((await check(afterPrune, { readData: true })).errors).toEqual([]);
    for (const id of committed) expect(await verifySnapshot(afterPrune, id)).toBe(ITEMS);

    // The next attempt of the run that was killed last.
    const final = await runWriter(run);
    expect(final.result, final.stderr).toBeDefined();
    const { downloads, stats } = final.result!;
    // The killed attempt checkpointed part of this run: the final attempt reads only the rest.
    expect(downloads).toBeLessThan(ITEMS);
    expect(stats.items).toBe(ITEMS);
    const after = await Repository.open(new FileStorage(dir), { key: KEY });
    expect(await verifySnapshot(after, final.result!.committed)).toBe(ITEMS);
    expect((await check(after)).errors).toEqual([]);
    console.log(
      `[crash] ${attempt} attempts, ${kills} killed, ${committed.length} committed; final run read ${downloads} of ${ITEMS} items`,
    );
  }, 600_000);
});
