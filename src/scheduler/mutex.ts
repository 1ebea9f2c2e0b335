/** A lock: job API calls and processing passes take turns on the stores. */
export class Mutex {
  #held = false;
  readonly #waiting: Array<() => void> = [];
  readonly #release = (): void => {
    const next = this.#waiting.shift();
    if (next === undefined) this.#held = false;
    else next();
  };

  /** True when nothing holds the lock or waits for it. */
  get idle(): boolean {
    return !this.#held;
  }

  /** Runs `fn` once every earlier `run` has settled; resolves or rejects with its result. */
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    if (this.#held) {
      return new Promise<void>((resolve) => this.#waiting.push(resolve)).then(() => this.#runHeld(fn));
    }
    this.#held = true;
    return this.#runHeld(fn);
  }

  #runHeld<T>(fn: () => Promise<T> | T): Promise<T> {
    let result: Promise<T>;
    try {
      result = Promise.resolve(fn());
    } catch (error) {
      result = Promise.reject(error);
    }
    result.then(this.#release, this.#release);
    return result;
  }
}
