import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Passwords: scrypt (memory-hard, in Node's core) at N=2^15, r=8, p=1, i.e. 32 MiB per hash, OWASP's
 * recommended floor. Stored as `scrypt$N$r$p$salt$hash` so parameters can be raised later.
 */
const SCRYPT = { N: 2 ** 15, r: 8, p: 1, keyLength: 32 };

function scryptAsync(password: string, salt: Buffer, N: number, r: number, p: number, keyLength: number) {
  return new Promise<Buffer>((resolve, reject) =>
    scrypt(password.normalize('NFKC'), salt, keyLength, { N, r, p, maxmem: 256 * N * r }, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, SCRYPT.N, SCRYPT.r, SCRYPT.p, SCRYPT.keyLength);
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64url'), Number(n), Number(r), Number(p), expected.length);
  return timingSafeEqual(actual, expected);
}

let decoy: Promise<string> | undefined;
/** A well-formed hash of a random password, so unknown emails cost the same time as wrong passwords. */
export function decoyPasswordHash(): Promise<string> {
  decoy ??= hashPassword(randomBytes(16).toString('base64url'));
  return decoy;
}

/**
 * Keyed digests and encryption at rest. Both keys are derived (HKDF-SHA256) from the configured
 * key-encryption secret, one per purpose, so the secret itself never touches data.
 */
export class SecretBox {
  readonly #digestKey: Buffer;
  readonly #encryptionKey: Buffer;

  constructor(keyEncryptionSecret: string) {
    const ikm = Buffer.from(keyEncryptionSecret, 'utf8');
    this.#digestKey = Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), 'idp:digest:v1', 32));
    this.#encryptionKey = Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), 'idp:encryption:v1', 32));
  }

  /**
   * HMAC-SHA256 of a high-entropy value (client secret, code, refresh token). These are 256-bit random
   * strings, so a fast keyed digest is as strong as a slow hash and keeps the token endpoint fast.
   */
  digest(value: string): string {
    return createHmac('sha256', this.#digestKey).update(value, 'utf8').digest('base64url');
  }

  /** Constant-time comparison of `value`'s digest with a stored digest. */
  matchesDigest(value: string, storedDigest: string): boolean {
    const actual = Buffer.from(this.digest(value), 'base64url');
    const expected = Buffer.from(storedDigest, 'base64url');
    return actual.length === expected.length && timingSafeEqual(actual, expected);
  }

  /** AES-256-GCM; output `v1.iv.ciphertext.tag` in base64url. */
  encrypt(plaintext: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#encryptionKey, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', iv, body, cipher.getAuthTag()].map((part) => (typeof part === 'string' ? part : part.toString('base64url'))).join('.');
  }

  decrypt(sealed: string): string {
    const [version, iv, body, tag] = sealed.split('.');
    if (version !== 'v1' || !tag) throw new Error('Unrecognised encrypted value');
    const decipher = createDecipheriv('aes-256-gcm', this.#encryptionKey, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
  }
}

/** A URL-safe random string with `bytes` bytes of entropy (default 256 bits). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/**
 * A generated client_id: 128 random bits, URL-safe, starting with a letter or digit (an id starting with '-'
 * reads as an option on a command line, `--client-id -x...`).
 */
export function randomClientId(): string {
  for (;;) {
    const id = randomToken(16);
    if (/^[A-Za-z0-9]/.test(id)) return id;
  }
}
