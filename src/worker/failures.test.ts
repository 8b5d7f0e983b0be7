// What each kind of error means for a run: the one table the whole worker follows.
import { describe, expect, it } from 'vitest';
import { SourceError } from '../providers/provider.ts';
import { RepositoryError } from '../repository/errors.ts';
import { classifyFailure, type FailureContext } from './failures.ts';

const item: FailureContext = { stage: 'item', cancelled: false };
const listing: FailureContext = { stage: 'listing', cancelled: false };
const graph = (status: number, options: { fatalReason?: 'AuthenticationFailed' } = {}) =>
  new SourceError({ source: 'graph', code: `HTTP${status}`, message: `status ${status}` }, { status, ...options });
const abort = () => new DOMException('This operation was aborted', 'AbortError');

describe('classifyFailure', () => {
  it.each([
    [
      'storage unreachable while an item is stored',
      new RepositoryError('Unavailable', 'S3 is down'),
      item,
      'run',
      'StorageUnavailable',
      true,
    ],
    ['a repository key that does not open it', new RepositoryError('WrongKey', 'wrong key'), listing, 'run', 'RepositoryKeyInvalid', true],
    ['a damaged pack read for a parent tree', new RepositoryError('Corrupt', 'damaged'), listing, 'run', 'InternalError', true],
    ['revoked credentials', graph(401, { fatalReason: 'AuthenticationFailed' }), item, 'run', 'AuthenticationFailed', false],
    ['a download that fails after the retries', graph(500), item, 'item', 'ItemsSkipped', false],
    ['a listing that fails after the retries', graph(503), listing, 'container', 'ItemsSkipped', false],
    ['a stream cut while an item is read', new TypeError('terminated'), item, 'item', 'ItemsSkipped', false],
    ['a bug while changes are listed', new TypeError('x is undefined'), listing, 'run', 'InternalError', false],
    ['a request that timed out on its own', new DOMException('timed out', 'TimeoutError'), item, 'item', 'ItemsSkipped', false],
  ] as const)('%s', (_name, error, context, scope, reason, storage) => {
    const failure = classifyFailure(error, context);
    expect({ scope: failure.scope, reason: failure.reason, storage: failure.storage, gone: failure.gone }).toEqual({
      scope,
      reason,
      storage,
      gone: false,
    });
  });

  it('takes a 404 or 410 of an item as gone, not failed', () => {
    expect(classifyFailure(graph(404), item)).toMatchObject({ scope: 'item', gone: true });
    expect(classifyFailure(graph(410), item)).toMatchObject({ scope: 'item', gone: true });
  });

  it('takes whatever fails once the run is cancelled as the cancellation, except storage and credentials', () => {
    const cancelled = { stage: 'item', cancelled: true } as const;
    expect(classifyFailure(abort(), cancelled)).toMatchObject({ scope: 'run', reason: 'Cancelled' });
    expect(classifyFailure(graph(500), cancelled)).toMatchObject({ scope: 'run', reason: 'Cancelled' });
    expect(classifyFailure(new RepositoryError('Unavailable', 'down'), cancelled)).toMatchObject({
      reason: 'StorageUnavailable',
      storage: true,
    });
    expect(classifyFailure(graph(401, { fatalReason: 'AuthenticationFailed' }), cancelled)).toMatchObject({
      reason: 'AuthenticationFailed',
    });
  });

  it('never records our storage as a source issue', () => {
    const failure = classifyFailure(new RepositoryError('Unavailable', 'S3 is down'), item);
    expect(failure.issue.source).toBe('internal');
    expect(failure.issue.message).toContain('repository storage');
  });
});
