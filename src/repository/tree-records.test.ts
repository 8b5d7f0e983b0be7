import { describe, expect, it } from 'vitest';
import { recordSpans } from './tree-records.ts';

const tree = (records: string[]) => Buffer.from(`{"items":[${records.join(',')}]}`);

describe('recordSpans', () => {
  it('finds every record of a tree as the writer writes it, whatever the strings and nesting hold', () => {
    const entries = [
      { id: 'plain', version: '1', path: 'Inbox', name: 'a', size: 1, modified: '2026-01-01T00:00:00Z', content: ['ab'] },
      { id: 'braces', name: 'a } b { c ] d [ e , f', path: '"quoted" \\ back\\slash', size: 2, content: [] },
      {
        id: 'escaped quote at the end \\',
        name: '\\"',
        metadata: { nested: ['x', 'y'], n: null, deep: ['{"not":"a record"}'] },
        content: ['c', 'd'],
      },
      { id: 'unicode', name: 'Grüße — 日本語 ✉️ \u2028', content: [] },
    ];
    const records = entries.map((e) => JSON.stringify(e));
    const bytes = tree(records);
    const spans = recordSpans(bytes)!;
    expect(spans.starts).toHaveLength(entries.length);
    spans.starts.forEach((start, i) => {
      expect(bytes.subarray(start, start + spans.lengths[i]!).toString()).toBe(records[i]);
    });
    expect(JSON.parse(bytes.toString()).items).toEqual(entries);
  });

  it('finds no record in an empty tree', () => {
    expect(recordSpans(tree([]))).toEqual({ starts: [], lengths: [] });
  });

  it('refuses any other shape, so the caller encodes the parsed entries instead', () => {
    for (const other of [
      '{"items": [{"id":"a"}]}', // whitespace
      '{"items":[{"id":"a"} ,{"id":"b"}]}',
      '{"items":[{"id":"a"}],"more":1}',
      '{"items":[["not an object"]]}',
      '{"items":["string"]}',
      '{"items":[{"id":"unterminated}]}',
      '{"items":[{"id":"a"}}]}',
      '{"other":[{"id":"a"}]}',
      '',
    ]) {
      expect(recordSpans(Buffer.from(other)), other).toBeUndefined();
    }
  });
});
