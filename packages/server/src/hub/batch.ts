/**
 * One read for the keys asked for together: `load(key)` waits until the end
 * of the current turn of the event loop (setImmediate), then one
 * `readMany(keys)` answers every key asked for meanwhile. Each caller still
 * gets an answer read after it asked — only later by a turn — so a batch
 * changes what a read costs, not what it says. The hub reads what an
 * agent's `hello` needs this way: a fleet reconnecting sends hundreds at
 * once, and one statement for all of them costs about what one costs alone.
 */
export class Batched<K, V> {
  private waiting = new Map<K, { resolve: (v: V | undefined) => void; reject: (err: unknown) => void }[]>();
  private scheduled = false;

  constructor(private readonly readMany: (keys: readonly K[]) => Promise<ReadonlyMap<K, V>>) {}

  /** The value of `key` (undefined: the read found none). */
  load(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const callers = this.waiting.get(key);
      if (callers) callers.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => void this.flush());
      }
    });
  }

  private async flush(): Promise<void> {
    const batch = this.waiting;
    this.waiting = new Map();
    this.scheduled = false;
    try {
      const values = await this.readMany([...batch.keys()]);
      for (const [key, callers] of batch) for (const c of callers) c.resolve(values.get(key));
    } catch (err) {
      for (const callers of batch.values()) for (const c of callers) c.reject(err);
    }
  }
}
