import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Chunker, gearTable, type ChunkerParams } from './chunker.ts';

const small: ChunkerParams = { min: 2 * 1024, avg: 8 * 1024, max: 64 * 1024 };

function pseudoRandom(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let state = seed;
  for (let i = 0; i < length; i++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

describe('content-defined chunker', () => {
  it('cuts deterministically within min and max, and the chunks add up to the input', () => {
    const data = pseudoRandom(2 * 1024 * 1024, 7);
    const chunks = [...new Chunker(42, small).split(data)];
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.length).toBeGreaterThanOrEqual(small.min);
      expect(chunk.length).toBeLessThanOrEqual(small.max);
    }
    const average = data.length / chunks.length;
    expect(average).toBeGreaterThan(small.avg / 2);
    expect(average).toBeLessThan(small.avg * 2);
    expect([...new Chunker(42, small).split(data)].map((c) => c.length)).toEqual(chunks.map((c) => c.length));
  });

  it('keeps most chunks when bytes are inserted near the start', () => {
    const data = pseudoRandom(1024 * 1024, 3);
    const changed = Buffer.concat([data.subarray(0, 1000), Buffer.from('inserted bytes'), data.subarray(1000)]);
    const chunker = new Chunker(1, small);
    const before = new Set([...chunker.split(data)].map((c) => c.toString('base64')));
    const after = [...chunker.split(changed)].map((c) => c.toString('base64'));
    const shared = after.filter((c) => before.has(c)).length;
    expect(shared / after.length).toBeGreaterThan(0.9);
  });

  it('gives the same chunks from a stream in any piece sizes as from the whole buffer', async () => {
    const data = randomBytes(700 * 1024);
    const chunker = new Chunker(9, small);
    async function* pieces(): AsyncGenerator<Buffer> {
      for (let i = 0; i < data.length; i += 777) yield data.subarray(i, i + 777);
    }
    const streamed: Buffer[] = [];
    for await (const chunk of chunker.splitStream(pieces())) streamed.push(chunk);
    expect(streamed.map((c) => c.length)).toEqual([...chunker.split(data)].map((c) => c.length));
    expect(Buffer.concat(streamed).equals(data)).toBe(true);
  });

  it('returns small input as one chunk and nothing for empty input', () => {
    const chunker = new Chunker(1, small);
    expect([...chunker.split(Buffer.from('hello'))]).toHaveLength(1);
    expect([...chunker.split(Buffer.alloc(0))]).toHaveLength(0);
  });

  it('derives different boundaries from different seeds', () => {
    expect(gearTable(1)).not.toEqual(gearTable(2));
    const data = pseudoRandom(512 * 1024, 11);
    const a = [...new Chunker(1, small).split(data)].map((c) => c.length);
    const b = [...new Chunker(2, small).split(data)].map((c) => c.length);
    expect(a).not.toEqual(b);
  });

  it('rejects impossible sizes', () => {
    expect(() => new Chunker(1, { min: 10, avg: 5, max: 20 })).toThrow(/min < avg < max/);
  });
});
