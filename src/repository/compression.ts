// Compression of blob plaintext before encryption, with Node's built-in zstd. The first byte of
// every encoded blob names its codec, so a blob is self-describing. Small blobs (mail) compress
// synchronously: the async API's stream machinery costs more than zstd itself on 15 KiB (measured
// 1.5x slower at 16 in flight). Large chunks go to libuv's thread pool, where several compress
// at once on a multi-core node.
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { RepositoryError } from './errors.ts';

const zstdCompress = promisify(zlib.zstdCompress);
const zstdDecompress = promisify(zlib.zstdDecompress);

export const RAW = 0;
export const ZSTD = 1;
// Level 1: on the mail benchmark level 3 stored no less (1.74 GiB either way) and cost more CPU.
const LEVEL = 1;
const PARAMS = { [zlib.constants.ZSTD_c_compressionLevel]: LEVEL };
/** From this size compression runs on the thread pool. */
const ASYNC_FROM_BYTES = 1024 * 1024;
/**
 * Compressed bodies smaller than this (mail, trees, index files) decompress synchronously: the
 * async API's stream machinery costs the main thread more than decompressing them (a tree of
 * 2,000 entries took 0.3 ms of zstd and 2 ms of stream). Larger ones go to the thread pool.
 */
const SYNC_DECOMPRESS_BELOW = 256 * 1024;
/** Below this size compression rarely pays for its frame. */
const MIN_COMPRESS_BYTES = 128;

/** The codec for a blob and the bytes that follow the codec byte: zstd output, or the plaintext itself. */
export interface CompressedBody {
  codec: typeof RAW | typeof ZSTD;
  body: Buffer;
}

export async function compressBody(plaintext: Buffer): Promise<CompressedBody> {
  if (plaintext.length >= MIN_COMPRESS_BYTES) {
    const compressed =
      plaintext.length >= ASYNC_FROM_BYTES
        ? await zstdCompress(plaintext, { params: PARAMS, chunkSize: plaintext.length + 1024 })
        : zlib.zstdCompressSync(plaintext, { params: PARAMS });
    // Keep the raw bytes when zstd saves too little (already compressed data: JPEG, ZIP, PDF streams).
    if (compressed.length < plaintext.length * 0.97) return { codec: ZSTD, body: compressed };
  }
  return { codec: RAW, body: plaintext };
}

/** codec byte ‖ body. */
export async function encodeBlob(plaintext: Buffer): Promise<Buffer> {
  const { codec, body } = await compressBody(plaintext);
  return Buffer.concat([Buffer.of(codec), body]);
}

/** zstd-decompresses `body`: synchronously when small, on the thread pool otherwise. */
export async function zstdDecompressBody(body: Buffer): Promise<Buffer> {
  return body.length < SYNC_DECOMPRESS_BELOW ? zlib.zstdDecompressSync(body) : await zstdDecompress(body);
}

export async function decodeBlob(encoded: Buffer, what: string): Promise<Buffer> {
  const codec = encoded[0];
  if (codec === RAW) return encoded.subarray(1);
  if (codec === ZSTD) {
    try {
      return await zstdDecompressBody(encoded.subarray(1));
    } catch (error) {
      throw new RepositoryError('Corrupt', `${what} is damaged: it does not decompress (${(error as Error).message})`);
    }
  }
  throw new RepositoryError('Corrupt', `${what} is damaged: unknown codec ${codec}`);
}
