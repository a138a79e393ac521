// Single-use values (authorization codes, rotating refresh tokens) for autocannon scenarios.
//
// autocannon builds every request up front unless the request has a `setupRequest`; with one, it calls
// setupRequest(request, context) before each send, so the function can splice the next value into the
// body/headers. The pool is filled BEFORE the load starts (generating values during the run would put
// extra work on the server's core and skew the numbers), and can be replenished from responses
// (a rotated refresh token comes back in the token response: `put` it back).
//
// Exhaustion is never silent: `take()` returns undefined, counts a miss and calls `onExhausted` once
// (run.mjs stops the autocannon instance there and marks the result invalid), and the request goes out
// with the placeholder value, which the server must reject -> non-2xx -> invalid result. (autocannon only
// honours stop() at its next 1 s tick, so expect some rejected requests after the pool runs dry.)
//
// Sizing: every autocannon instance (the warmup is one, the measurement another) builds one request per
// connection when it starts and drops the request each connection had pre-built when it stops, so a
// warmup + measurement run consumes up to 2 x connections values that are never sent. A self-replenishing
// pool (refresh rotation) therefore needs >= 3 x connections seed values; a fixed pool needs
// rps x (warmup + duration) plus that loss. `OneTimeValuePool.sizeFor` does the arithmetic.

export const EXHAUSTED_PLACEHOLDER = 'bench-pool-exhausted';

export class OneTimeValuePool {
  #values;
  #next = 0;
  #onExhausted;
  #exhaustedNotified = false;

  /** @param {string} name  @param {Iterable<unknown>} [values] */
  constructor(name, values = []) {
    this.name = name;
    this.#values = [...values];
    this.taken = 0;
    this.misses = 0;
    this.returned = 0;
  }

  /** Values still available. */
  get size() {
    return this.#values.length - this.#next;
  }

  /** Add values (fill before the run, or replenish from responses during it). */
  put(...values) {
    for (const value of values)
      if (value !== undefined && value !== null) {
        this.#values.push(value);
        this.returned += 1;
      }
    // compact now and then so a long self-replenishing run does not keep every used value alive
    if (this.#next > 4096 && this.#next * 2 > this.#values.length) {
      this.#values = this.#values.slice(this.#next);
      this.#next = 0;
    }
    if (this.size > 0) this.#exhaustedNotified = false;
  }

  /** The next unused value, or undefined when the pool is empty. */
  take() {
    if (this.#next < this.#values.length) {
      const value = this.#values[this.#next];
      this.#values[this.#next] = undefined;
      this.#next += 1;
      this.taken += 1;
      return value;
    }
    this.misses += 1;
    if (!this.#exhaustedNotified) {
      this.#exhaustedNotified = true;
      this.#onExhausted?.(this);
    }
    return undefined;
  }

  /** Called once each time the pool runs dry. */
  onExhausted(fn) {
    this.#onExhausted = fn;
    return this;
  }

  stats() {
    return { name: this.name, taken: this.taken, returned: this.returned, misses: this.misses, left: this.size };
  }

  /**
   * An autocannon `requests[].setupRequest` that takes one value per request and lets `apply(request, value)`
   * put it into the request (return the request). On exhaustion, `apply` gets EXHAUSTED_PLACEHOLDER.
   */
  setupRequest(apply) {
    return (request, _context) => apply(request, this.take() ?? EXHAUSTED_PLACEHOLDER);
  }

  /**
   * How many values a run needs: rps x (warmup + duration) x 1.25 plus the 2 x connections autocannon drops,
   * and at least 3 x connections (the seed of a self-replenishing pool: pass expectedRps 0).
   */
  static sizeFor({ expectedRps, duration, warmup, connections }) {
    return Math.max(connections * 3, Math.ceil(expectedRps * (duration + warmup) * 1.25) + connections * 2);
  }
}
