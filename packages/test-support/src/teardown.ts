/**
 * Undoing a suite's set-up when that set-up may have stopped half-way: each
 * resource registers its cleanup once it exists, so the `after` hook only
 * touches what was created (no guessing from variables that were never set).
 */

export class Teardown {
  private readonly steps: (() => Promise<unknown>)[] = [];

  /** Registers `step`; it runs before the steps registered earlier. */
  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }

  /** Runs every registered step once, the last registered first; a failing step does not stop the others, and the first failure is thrown at the end. */
  async run(): Promise<void> {
    const failures: unknown[] = [];
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}
