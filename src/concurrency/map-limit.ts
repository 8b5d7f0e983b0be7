// Bounded concurrency for lists of independent tasks: folders probed, masters read, accounts
// backed up. At most `limit` tasks run at once; the next starts as soon as one ends.

/** Runs `fn` over `items` with at most `limit` at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  await eachLimit(items, limit, async (item, index) => {
    out[index] = await fn(item, index);
  });
  return out;
}

/**
 * Runs `fn` over `items` with at most `limit` at once. `stop` is asked before each task starts: once
 * it says yes, no new task starts and the running ones finish.
 */
export async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !stop()) {
      const index = next++;
      await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
