// Repository locks, as objects with an expiry. Writers never lock each other out; they hold a
// shared lock so that prune (exclusive) does not delete a blob a running writer just reused. A
// lock whose holder died expires on its own; holders refresh theirs while they work.
import { hostname } from 'node:os';
import { RepositoryError } from './errors.ts';
import { newObjectId } from './index.ts';
import type { Storage } from './storage/storage.ts';

/** What locking needs of a repository (Repository has it). */
export interface LockTarget {
  readonly storage: Storage;
  clock(): Date;
  sealBytes(plaintext: Buffer): Buffer;
  getSealed(name: string): Promise<Buffer>;
}

export interface LockRecord {
  exclusive: boolean;
  holder: string;
  host: string;
  pid: number;
  created: string;
  expires: string;
}

export const LOCK_TTL_MS = 5 * 60_000;

export interface HeldLock {
  name: string;
  release(): Promise<void>;
}

async function liveLocks(repository: LockTarget): Promise<{ name: string; record: LockRecord }[]> {
  const now = repository.clock().getTime();
  const locks: { name: string; record: LockRecord }[] = [];
  for await (const object of repository.storage.list('locks/')) {
    try {
      const record = JSON.parse((await repository.getSealed(object.name)).toString('utf8')) as LockRecord;
      if (Date.parse(record.expires) > now) locks.push({ name: object.name, record });
    } catch {
      // An unreadable or vanished lock object blocks nobody.
    }
  }
  return locks;
}

function describe(record: LockRecord): string {
  return `${record.exclusive ? 'an exclusive' : 'a shared'} lock held by ${record.holder} on ${record.host} (pid ${record.pid}) since ${record.created}, expiring ${record.expires}`;
}

export async function acquireLock(repository: LockTarget, holder: string, exclusive: boolean): Promise<HeldLock> {
  const conflicting = (await liveLocks(repository)).filter((lock) => exclusive || lock.record.exclusive);
  if (conflicting.length > 0) {
    throw new RepositoryError(
      'Locked',
      `the repository at ${repository.storage.location} is locked: ${describe(conflicting[0]!.record)}; try again later`,
    );
  }
  const name = `locks/${newObjectId()}`;
  const write = async () => {
    const now = repository.clock();
    const record: LockRecord = {
      exclusive,
      holder,
      host: hostname(),
      pid: process.pid,
      created: now.toISOString(),
      expires: new Date(now.getTime() + LOCK_TTL_MS).toISOString(),
    };
    await repository.storage.put(name, sealLock(repository, record));
  };
  await write();
  if (exclusive) {
    // Two processes may have checked at the same moment: the one whose lock sorts first wins.
    const others = (await liveLocks(repository)).filter((lock) => lock.name !== name);
    if (others.some((lock) => !lock.record.exclusive || lock.name < name)) {
      await repository.storage.delete(name);
      throw new RepositoryError(
        'Locked',
        `the repository at ${repository.storage.location} is locked: ${describe(others[0]!.record)}; try again later`,
      );
    }
  }
  const refresh = setInterval(() => void write().catch(() => undefined), LOCK_TTL_MS / 3);
  refresh.unref();
  return {
    name,
    async release() {
      clearInterval(refresh);
      await repository.storage.delete(name);
    },
  };
}

function sealLock(repository: LockTarget, record: LockRecord): Buffer {
  return repository.sealBytes(Buffer.from(JSON.stringify(record)));
}
