// A budget that work waits on: bytes being encoded, streams being read. Taking more than is left
// waits until enough is given back; a request larger than the whole budget proceeds alone, so
// nothing waits forever.
export class Budget {
  readonly #capacity: number;
  #used = 0;
  #waiters: (() => void)[] = [];

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  async take(amount: number): Promise<void> {
    while (this.#used > 0 && this.#used + amount > this.#capacity) await new Promise<void>((resolve) => this.#waiters.push(resolve));
    this.#used += amount;
  }

  give(amount: number): void {
    this.#used -= amount;
    for (const wake of this.#waiters.splice(0)) wake();
  }
}
