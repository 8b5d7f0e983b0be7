// The deterministic content of item i in the crash test: 4–60 KiB, partly compressible.
export function crashItemContent(i: number): Buffer {
  const length = 4096 + ((i * 7919) % (56 * 1024));
  const out = Buffer.alloc(length);
  let state = (i + 1) * 2654435761;
  for (let n = 0; n < length; n++) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    out[n] = n % 3 === 0 ? 65 + (n % 26) : state >>> 24;
  }
  return out;
}
