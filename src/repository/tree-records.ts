// Where each entry's JSON record is in a tree blob's bytes, without decoding them: the writer
// copies stored entries into its spill file and into new trees byte for byte, so an entry that
// does not change is never encoded again.
//
// A tree is `{"items":[<record>,<record>,...]}` with each record a JSON object. The scan follows
// strings (and their escapes) and nesting, so braces, brackets and quotes inside names or
// metadata are not mistaken for structure; UTF-8 continuation bytes are all >= 0x80 and never
// look like structure either.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

/** Start offsets and lengths of a tree's records, or undefined if the bytes are not a tree of objects. */
export interface RecordSpans {
  starts: number[];
  lengths: number[];
}

/**
 * The spans of the records in the array under `"items"` of `tree` (the tree's only member, as the
 * writer writes it). Returns undefined when the bytes have any other shape, so a caller can fall
 * back to encoding the parsed entries.
 */
export function recordSpans(tree: Uint8Array): RecordSpans | undefined {
  const prefix = '{"items":[';
  if (tree.length < prefix.length + 2) return undefined;
  for (let i = 0; i < prefix.length; i++) if (tree[i] !== prefix.charCodeAt(i)) return undefined;
  const starts: number[] = [];
  const lengths: number[] = [];
  // Depth 0 is inside the items array; a record is an object opened at depth 0.
  let depth = 0;
  let start = -1;
  const end = tree.length - 2;
  if (tree[end] !== CLOSE_ARRAY || tree[end + 1] !== CLOSE_OBJECT) return undefined;
  for (let i = prefix.length; i < end; i++) {
    const c = tree[i]!;
    if (c === QUOTE) {
      if (depth === 0) return undefined;
      // Skip to the closing quote, over escapes.
      for (i++; i < end; i++) {
        const s = tree[i]!;
        if (s === BACKSLASH) i++;
        else if (s === QUOTE) break;
      }
      if (i >= end) return undefined;
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (depth === 0) {
        if (c !== OPEN_OBJECT) return undefined;
        start = i;
      }
      depth++;
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--;
      if (depth < 0) return undefined;
      if (depth === 0) {
        starts.push(start);
        lengths.push(i + 1 - start);
      }
    } else if (depth === 0 && c !== 0x2c) {
      // Between records only commas (the writer writes no whitespace).
      return undefined;
    }
  }
  return depth === 0 ? { starts, lengths } : undefined;
}
