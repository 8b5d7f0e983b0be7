import { describe, expect, it } from 'vitest';
import { containersCursor } from './container-cursor.ts';
import { removedContainers } from './delta.ts';

describe('containers gone from the source', () => {
  it('are removed whether their cursor entry could be read or not', () => {
    const previous = containersCursor.parse(
      '{"v":1,"containers":{"kept":{"link":"k","path":"K"},"gone":{"link":"g","path":"G"},"damaged":{"link":1}}}',
    );
    expect([...removedContainers(previous, new Set(['kept']))]).toEqual([
      { type: 'containerRemoved', container: 'gone' },
      { type: 'containerRemoved', container: 'damaged' },
    ]);
    expect([...removedContainers(previous, new Set(['kept', 'gone', 'damaged']))]).toEqual([]);
  });
});
