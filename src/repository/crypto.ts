// Keys and ciphers of the repository. Every object except key files is sealed with AES-256-GCM
// under the master key; blob ids are HMAC-SHA256 of the plaintext under a separate id key, so a
// stored name reveals nothing about content. The master key is generated at init and stored in
// key files wrapped by a key derived (scrypt) from the Secret's value.
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  createSecretKey,
  randomBytes,
  randomFillSync,
  scrypt,
  timingSafeEqual,
  type BinaryLike,
  type KeyObject,
} from 'node:crypto';
import { RepositoryError } from './errors.ts';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** Bytes a sealed object has beyond its plaintext. */
export const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES;

// A KeyObject per key buffer: handing createHmac/createCipheriv a raw Buffer makes Node prepare a
// new secret key on every call, which costs as much as hashing a small mail.
const keyObjects = new WeakMap<Buffer, KeyObject>();
function keyObject(key: Buffer): KeyObject {
  let object = keyObjects.get(key);
  if (!object) {
    object = createSecretKey(key);
    keyObjects.set(key, object);
  }
  return object;
}

export interface MasterKey {
  /** AES-256-GCM key for every sealed object. */
  encryption: Buffer;
  /** HMAC-SHA256 key that names blobs. */
  id: Buffer;
  /** Seed of the content-defined chunker, so chunk boundaries do not fingerprint content across repositories. */
  chunkerSeed: number;
}

export function generateMasterKey(): MasterKey {
  return { encryption: randomBytes(32), id: randomBytes(32), chunkerSeed: randomBytes(4).readUInt32LE(0) };
}

/** The id of a blob: HMAC-SHA256 of its plaintext, hex. */
export function blobId(key: MasterKey, plaintext: Buffer): string {
  return createHmac('sha256', keyObject(key.id)).update(plaintext).digest('hex');
}

export function idMatches(key: MasterKey, plaintext: Buffer, id: string): boolean {
  const actual = createHmac('sha256', keyObject(key.id)).update(plaintext).digest();
  const expected = Buffer.from(id, 'hex');
  return expected.length === actual.length && timingSafeEqual(actual, expected);
}

/** nonce ‖ ciphertext ‖ tag. */
export function seal(encryptionKey: Buffer, plaintext: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyObject(encryptionKey), nonce);
  const body = cipher.update(plaintext);
  const final = cipher.final();
  return Buffer.concat([nonce, body, final, cipher.getAuthTag()]);
}

/**
 * Seals `prefix ‖ body` into `target` and returns the sealed length (SEAL_OVERHEAD + prefix +
 * body); the same bytes as seal() of the concatenation. `body` may lie inside `target`: it is read
 * whole before anything is written.
 */
export function sealInto(encryptionKey: Buffer, prefix: Buffer, body: Buffer, target: Buffer): number {
  const nonce = randomFillSync(Buffer.allocUnsafe(NONCE_BYTES));
  const cipher = createCipheriv('aes-256-gcm', keyObject(encryptionKey), nonce);
  const head = cipher.update(prefix);
  const middle = cipher.update(body);
  const final = cipher.final();
  let n = nonce.copy(target, 0);
  n += head.copy(target, n);
  n += middle.copy(target, n);
  n += final.copy(target, n);
  n += cipher.getAuthTag().copy(target, n);
  return n;
}

/** Opens a sealed buffer; `what` names the object in the error when it is damaged or not ours. */
export function open(encryptionKey: Buffer, sealed: Buffer, what: string): Buffer {
  if (sealed.length < NONCE_BYTES + TAG_BYTES) {
    throw new RepositoryError('Corrupt', `${what} is damaged: ${sealed.length} bytes is too short to be a sealed object`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyObject(encryptionKey), sealed.subarray(0, NONCE_BYTES));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new RepositoryError('Corrupt', `${what} is damaged: it does not decrypt (authentication failed)`);
  }
}

// ---- key files ------------------------------------------------------------------------------

export interface KeyFile {
  version: 1;
  created: string;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  /** The master key, sealed with the key derived from the Secret. */
  wrapped: string;
}

const SCRYPT = { N: 32768, r: 8, p: 1 };

function deriveKey(secret: BinaryLike, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, 32, { ...params, maxmem: 256 * params.N * params.r }, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

export async function wrapMasterKey(master: MasterKey, secret: string, now: Date): Promise<KeyFile> {
  if (secret.length < 8) {
    throw new RepositoryError('WrongKey', 'the repository key must have at least 8 characters; use 32 or more random characters');
  }
  const salt = randomBytes(32);
  const kek = await deriveKey(secret, salt, SCRYPT);
  const plaintext = Buffer.from(
    JSON.stringify({ encryption: master.encryption.toString('base64'), id: master.id.toString('base64'), chunkerSeed: master.chunkerSeed }),
  );
  return {
    version: 1,
    created: now.toISOString(),
    kdf: { name: 'scrypt', ...SCRYPT, salt: salt.toString('base64') },
    wrapped: seal(kek, plaintext).toString('base64'),
  };
}

/** Returns the master key, or undefined when `secret` is not the key of this key file. */
export async function unwrapMasterKey(file: KeyFile, secret: string): Promise<MasterKey | undefined> {
  const kek = await deriveKey(secret, Buffer.from(file.kdf.salt, 'base64'), file.kdf);
  let plaintext: Buffer;
  try {
    plaintext = open(kek, Buffer.from(file.wrapped, 'base64'), 'key file');
  } catch {
    return undefined;
  }
  const parsed = JSON.parse(plaintext.toString('utf8')) as { encryption: string; id: string; chunkerSeed: number };
  return { encryption: Buffer.from(parsed.encryption, 'base64'), id: Buffer.from(parsed.id, 'base64'), chunkerSeed: parsed.chunkerSeed };
}
