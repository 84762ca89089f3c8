/**
 * One read for the keys asked for together: `load(key)` waits until the end
 * of the current turn of the event loop (setImmediate), then one
 * `readMany(keys)` answers every key asked for meanwhile. Each caller still
 * gets an answer read after it asked — only later by a turn — so a batch
 * changes what a read costs, not what it says. The hub reads and writes
 * what an agent's `hello` needs this way, and the server checks tokens so
 * (auth/tokens.ts): a fleet reconnecting sends hundreds at once, and one
 * statement for all of them costs about what one costs alone.
 */
export interface BatchWindow {
  /** Gather keys for up to this long after the first of a batch (instead of one turn of the event loop). */
  readonly windowMs: number;
  /** …but read at once when this many are waiting. */
  readonly maxKeys: number;
  /**
   * One batch at a time: keys that come while a batch is being written wait
   * for it to end and then go together, at most `maxKeys` per batch (group
   * commit). For a write that waits for a lock shared with other processes
   * (SQLite under `--workers`): the longer the wait, the bigger the next
   * batch, instead of more small batches queueing for the same lock.
   */
  readonly serial?: boolean;
}

/** The callers waiting for each key. */
type Waiting<K, V> = Map<K, { resolve: (v: V | undefined) => void; reject: (err: unknown) => void }[]>;

export class Batched<K, V> {
  private waiting: Waiting<K, V> = new Map();
  private scheduled = false;
  private timer: NodeJS.Timeout | undefined;

  /**
   * Without a window a batch is what one turn of the event loop asked for.
   * That is little when requests trickle in one per turn, as handshakes do
   * from a fleet connecting at the pace of its round trips: a short window
   * (the hub's registrations wait ≤ 2 ms) then turns a batch of one into a
   * batch of dozens, for a delay no agent notices.
   */
  constructor(
    private readonly readMany: (keys: readonly K[]) => Promise<ReadonlyMap<K, V>>,
    private readonly window?: BatchWindow,
  ) {}

  /** The value of `key` (undefined: the read found none). */
  load(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const callers = this.waiting.get(key);
      if (callers) callers.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        if (this.window) this.timer = setTimeout(() => void this.flush(), this.window.windowMs);
        else setImmediate(() => void this.flush());
      }
      // A full batch does not wait out its window (a serial batch being written leaves no timer).
      if (this.timer && this.window && this.waiting.size >= this.window.maxKeys) {
        clearTimeout(this.timer);
        this.timer = undefined;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    this.timer = undefined;
    const window = this.window;
    const serial = window?.serial === true;
    const batch = serial ? this.take(window.maxKeys) : this.waiting;
    if (!serial) {
      this.waiting = new Map();
      this.scheduled = false;
    }
    try {
      const values = await this.readMany([...batch.keys()]);
      for (const [key, callers] of batch) for (const c of callers) c.resolve(values.get(key));
    } catch (err) {
      for (const callers of batch.values()) for (const c of callers) c.reject(err);
    }
    if (!serial) return;
    // Serial: what came meanwhile has waited a whole batch already and goes at once.
    if (this.waiting.size > 0) setImmediate(() => void this.flush());
    else this.scheduled = false;
  }

  /** The first `max` keys waiting (in the order asked), taken out of the wait. */
  private take(max: number): Waiting<K, V> {
    if (this.waiting.size <= max) {
      const all = this.waiting;
      this.waiting = new Map();
      return all;
    }
    const batch: Waiting<K, V> = new Map();
    for (const [key, callers] of this.waiting) {
      if (batch.size >= max) break;
      batch.set(key, callers);
      this.waiting.delete(key);
    }
    return batch;
  }
}
