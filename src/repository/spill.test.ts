import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SpillFile } from './spill.ts';

describe('SpillFile', () => {
  it('reads back every record, from the buffer and from the file, whatever its size or characters', () => {
    const directory = mkdtempSync(join(tmpdir(), 'spill-test-'));
    const spill = SpillFile.open(directory);
    // Nothing is left in the directory: the file is unlinked as soon as it is open.
    expect(readdirSync(directory)).toEqual([]);
    const records = Array.from({ length: 5000 }, (_, i) =>
      JSON.stringify({ id: `m${i}`, name: i % 7 === 0 ? 'Grüße — 日本語 ✉️' : 'x'.repeat(i % 900) }),
    );
    records.push('y'.repeat(2 * 1024 * 1024), 'after the big one');
    const refs = records.map((r) => spill.append(r));
    // Several MiB were written, so most records are read from the file, the last from the buffer.
    expect(refs.at(-1)!.at).toBeGreaterThan(2 * 1024 * 1024);
    for (let i = records.length - 1; i >= 0; i -= 1) expect(spill.read(refs[i]!)).toBe(records[i]);
    spill.close();
    expect(() => spill.read(refs[0]!)).toThrow(/closed/);
  });

  it('keeps blocks of bytes as they are, and copies a range that runs from the file into the buffer', () => {
    const spill = SpillFile.open();
    const small = Buffer.from('{"a":1},{"b":"é"}');
    const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
    const atSmall = spill.appendBytes(small);
    const atBig = spill.appendBytes(big);
    const tail = spill.append('tail');
    expect(atBig).toBe(atSmall + small.length);
    expect(tail.at).toBe(atBig + big.length);
    expect(spill.read({ at: atSmall + 8, length: small.length - 8 })).toBe('{"b":"é"}');
    // The last byte of the big block is in the file, "tail" still in the buffer: one range over both.
    const across = Buffer.alloc(1 + 4);
    spill.copyTo({ at: tail.at - 1, length: 5 }, across, 0);
    expect(across.toString()).toBe('atail');
    expect(spill.read({ at: atBig, length: big.length })).toBe(big.toString());
    spill.close();
  });

  it('says what to fix when the temporary directory cannot be written', () => {
    expect(() => SpillFile.open('/nonexistent/saasbackup')).toThrow(/writable temporary directory.*TMPDIR/);
  });
});
