// Item content without holding it: a generated item keeps a recipe (a label and a size) and its
// bytes are produced again, identically, whenever they are downloaded. Only content a client
// uploaded or restored is kept as bytes. A tenant of many GiB therefore costs little memory.
import { createHash } from 'node:crypto';
import { randomBytesFor } from '../../../../bench/corpus/prng.ts';

export interface Content {
  readonly size: number;
  /** The bytes, the same on every call. */
  bytes(): Buffer;
}

/** Content a client wrote (upload, restore). */
export class StoredContent implements Content {
  private readonly data: Buffer;

  constructor(data: Buffer) {
    this.data = data;
  }

  get size(): number {
    return this.data.length;
  }

  bytes(): Buffer {
    return this.data;
  }
}

/** Content rendered on demand by a deterministic function of its label. */
export class GeneratedContent implements Content {
  readonly size: number;
  private readonly render: () => Buffer;

  constructor(size: number, render: () => Buffer) {
    this.size = size;
    this.render = render;
  }

  bytes(): Buffer {
    const data = this.render();
    if (data.length !== this.size) throw new Error(`generated content is ${data.length} bytes, recipe says ${this.size}`);
    return data;
  }
}

/** `size` incompressible bytes for `label` (binary files, attachments). */
export function randomContent(label: string, size: number): Content {
  return new GeneratedContent(size, () => randomBytesFor(label, size));
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
