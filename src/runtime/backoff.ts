// Per-key exponential backoff, like client-go's ItemExponentialFailureRateLimiter: each failure of
// a key doubles its next delay from `baseMs` up to `maxMs`, and `forget` resets it once the key
// reconciles cleanly, so one broken object backs off without slowing any other.

export interface BackoffOptions {
  /** Delay after the first failure. client-go's default is 5 ms. */
  baseMs?: number;
  /** Upper bound for any delay. client-go's default is 1000 s. */
  maxMs?: number;
  /**
   * Spread each delay up by a random share of itself (0.1 → up to +10%), so that many keys failing
   * together (the apiserver restarting) do not all retry in the same instant. Default 0.
   */
  jitter?: number;
  /** Source of randomness in [0, 1); injected so tests are deterministic. */
  random?: () => number;
}

const DEFAULT_BASE_MS = 5;
const DEFAULT_MAX_MS = 1_000_000;

/** Delay before retry number `attempt` (0 for the first retry): base · 2^attempt, jittered, capped. */
export function exponentialDelay(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? DEFAULT_BASE_MS;
  const max = options.maxMs ?? DEFAULT_MAX_MS;
  // Beyond 2^52 doubling only overflows; the cap has long been reached by then.
  const exponential = attempt >= 52 ? Number.MAX_SAFE_INTEGER : base * 2 ** Math.max(0, attempt);
  const jitter = options.jitter ?? 0;
  const jittered = jitter > 0 ? exponential * (1 + jitter * (options.random ?? Math.random)()) : exponential;
  return Math.min(jittered, max);
}

export class ItemExponentialBackoff {
  readonly #options: BackoffOptions;
  readonly #failures = new Map<string, number>();

  constructor(options: BackoffOptions = {}) {
    const base = options.baseMs ?? DEFAULT_BASE_MS;
    const max = options.maxMs ?? DEFAULT_MAX_MS;
    if (base <= 0 || max < base) throw new Error(`backoff needs 0 < baseMs <= maxMs, got ${base} and ${max}`);
    this.#options = options;
  }

  /** Records one more failure of `key` and returns how long to wait before retrying it. */
  when(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    return exponentialDelay(failures, this.#options);
  }

  /** How many failures in a row `key` has had since it was last forgotten. */
  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** Clears the failure count of `key` (it succeeded, or it will never be retried). */
  forget(key: string): void {
    this.#failures.delete(key);
  }
}
