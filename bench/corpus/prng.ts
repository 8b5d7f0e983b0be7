// Deterministic randomness for the corpora: sfc32 for decisions (fast, 32-bit integer arithmetic
// only, seeded through SHA-256 so any string is a seed) and an AES-128-CTR key stream for bulk
// incompressible bytes (gigabytes per second with AES-NI, and reproducible from a label).
import { createCipheriv, createHash } from 'node:crypto';
import type { Cipheriv } from 'node:crypto';

export class Prng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: string) {
    const h = createHash('sha256').update(seed).digest();
    this.#a = h.readUInt32LE(0);
    this.#b = h.readUInt32LE(4);
    this.#c = h.readUInt32LE(8);
    this.#d = h.readUInt32LE(12) | 1;
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** sfc32: 32 random bits as an unsigned integer. */
  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.u32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.float() * n);
  }

  /** Uniform integer in [lo, hi]. */
  between(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    const item = items[this.int(items.length)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }

  /** Picks by weight: `weighted([[a, 3], [b, 1]])` returns a three times out of four. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T {
    let total = 0;
    for (const [, w] of choices) total += w;
    let r = this.float() * total;
    for (const [value, w] of choices) {
      r -= w;
      if (r < 0) return value;
    }
    const last = choices[choices.length - 1];
    if (last === undefined) throw new Error('weighted pick from an empty list');
    return last[0];
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = 1 - this.float();
    const v = this.float();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Log-normal with the given median; sigma is the standard deviation of the logarithm. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Zipf-like rank in [0, n): rank k with probability proportional to 1/(k+1)^s (approximate, O(1)). */
  zipf(n: number, s = 1): number {
    // Inverse transform of the continuous density x^-s on [1, n+1].
    const u = this.float();
    let x: number;
    if (Math.abs(s - 1) < 1e-9) {
      x = Math.exp(u * Math.log(n + 1));
    } else {
      const e = 1 - s;
      x = Math.pow(1 + u * (Math.pow(n + 1, e) - 1), 1 / e);
    }
    return Math.min(n - 1, Math.max(0, Math.floor(x) - 1));
  }

  /** Lower-case hex of `bytes` random bytes. */
  hex(bytes: number): string {
    let s = '';
    for (let i = 0; i < bytes; i += 4) s += this.u32().toString(16).padStart(8, '0');
    return s.slice(0, bytes * 2);
  }
}

/** An endless, reproducible stream of incompressible bytes (AES-128-CTR over zeros). */
export class ByteStream {
  readonly #cipher: Cipheriv;

  constructor(label: string) {
    const h = createHash('sha256').update(`bytes:${label}`).digest();
    this.#cipher = createCipheriv('aes-128-ctr', h.subarray(0, 16), h.subarray(16, 32));
  }

  next(length: number): Buffer {
    return this.#cipher.update(Buffer.alloc(length));
  }
}

/** `length` reproducible incompressible bytes for `label`. */
export function randomBytesFor(label: string, length: number): Buffer {
  return new ByteStream(label).next(length);
}
