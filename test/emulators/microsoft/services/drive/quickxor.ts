// QuickXorHash, the content hash OneDrive for Business and SharePoint report in
// `file.hashes.quickXorHash` (base64 of 20 bytes). Microsoft's reference implementation shifts each
// byte 11 bits further into a 160-bit register that wraps around, XORs it in, and finally XORs the
// little-endian 64-bit length into the last 8 bytes. Byte k lands at bit (11 * k) mod 160, so all
// bytes at positions congruent modulo 160 can be XORed together first: one pass, no big integers.

const WIDTH_BITS = 160;
const WIDTH_BYTES = 20;
const SHIFT = 11;

export class QuickXorHash {
  /** acc[i]: XOR of every byte whose position is congruent to i modulo 160. */
  private readonly acc = new Uint8Array(WIDTH_BITS);
  private length = 0;

  update(data: Uint8Array): this {
    const acc = this.acc;
    let lane = this.length % WIDTH_BITS;
    const n = data.length;
    let i = 0;
    // Head: reach a lane-0 boundary.
    while (i < n && lane !== 0) {
      acc[lane] = (acc[lane] as number) ^ (data[i] as number);
      i++;
      lane = lane + 1 === WIDTH_BITS ? 0 : lane + 1;
    }
    // Whole 160-byte blocks.
    for (; i + WIDTH_BITS <= n; i += WIDTH_BITS) {
      for (let j = 0; j < WIDTH_BITS; j++) acc[j] = (acc[j] as number) ^ (data[i + j] as number);
    }
    // Tail.
    for (let j = 0; i < n; i++, j++) acc[j] = (acc[j] as number) ^ (data[i] as number);
    this.length += n;
    return this;
  }

  digest(): Buffer {
    const out = Buffer.alloc(WIDTH_BYTES);
    for (let i = 0; i < WIDTH_BITS; i++) {
      const b = this.acc[i] as number;
      if (b === 0) continue;
      const bit = (i * SHIFT) % WIDTH_BITS;
      const v = b << (bit & 7);
      const at = bit >> 3;
      out[at] = (out[at] as number) ^ (v & 0xff);
      const next = at + 1 === WIDTH_BYTES ? 0 : at + 1;
      out[next] = (out[next] as number) ^ (v >> 8);
    }
    // The length, little-endian, XORed into the last 8 bytes.
    let len = this.length;
    for (let i = 0; i < 8; i++) {
      out[WIDTH_BYTES - 8 + i] = (out[WIDTH_BYTES - 8 + i] as number) ^ (len % 256);
      len = Math.floor(len / 256);
    }
    return out;
  }
}

export function quickXorHash(data: Uint8Array): string {
  return new QuickXorHash().update(data).digest().toString('base64');
}
