import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.ts';

describe('durations', () => {
  it.each([
    ['30d', 30 * 86_400_000],
    ['12w', 12 * 7 * 86_400_000],
    ['1y', 365 * 86_400_000],
    ['1h30m', 5_400_000],
    ['45s', 45_000],
  ])('parses %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(['', '30', 'd', '1.5h', '30 days', '-1d'])('rejects %j with a message that shows the format', (text) => {
    expect(() => parseDuration(text)).toThrow(/for example 30d/);
  });

  it.each([
    [0, '0s'],
    [45_000, '45s'],
    [5_400_000, '1h30m'],
    [3 * 86_400_000 + 4 * 3_600_000 + 5_000, '3d4h'],
  ])('formats %d ms as %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});
