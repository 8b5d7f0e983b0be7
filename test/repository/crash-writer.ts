// A writer for the crash test: backs up a deterministic set of items into a repository (with
// frequent checkpoints) and reports on stdout. The test kills it with SIGKILL at random moments.
// Usage: node crash-writer.ts <repo dir> <key> <items> <run>
import { FileStorage } from '../../src/repository/storage/file.ts';
import { Repository } from '../../src/repository/repository.ts';
import { crashItemContent } from './crash-items.ts';

const [dir, key, countText, run] = process.argv.slice(2) as [string, string, string, string];
const count = Number(countText);
const repository = await Repository.open(new FileStorage(dir), { key });
const writer = await repository.snapshotWriter({
  policy: 'crash',
  run,
  shard: 0,
  parent: 'latest',
  checkpointEveryBytes: 2 * 1024 * 1024,
  packTargetBytes: 512 * 1024,
});
let downloads = 0;
const inFlight = new Set<Promise<unknown>>();
for (let i = 0; i < count; i++) {
  const id = `item-${i}`;
  const promise = writer
    .addItem({
      account: `mbx-${i % 7}`,
      service: 'mail',
      id,
      // Each run sees new versions (as after a change in the mailbox), so every run does real work.
      version: run,
      path: 'Inbox',
      name: id,
      size: crashItemContent(i).length,
      modified: '2026-11-01T00:00:00Z',
      content: async () => {
        downloads += 1;
        return crashItemContent(i);
      },
    })
    .finally(() => inFlight.delete(promise));
  inFlight.add(promise);
  if (inFlight.size >= 8) await Promise.race(inFlight);
}
await Promise.all(inFlight);
const snapshot = await writer.commit();
console.log(JSON.stringify({ committed: snapshot.id, downloads, resumedFrom: writer.resumedFrom.length, stats: snapshot.stats }));
