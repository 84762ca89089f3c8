/** A definition list of labelled facts about one thing (an agent, a deployment); long values (store paths) take a whole row. */
import type { ComponentChildren } from 'preact';

export type Fact = [label: string, value: ComponentChildren, wide?: 'wide'];

export function Facts({ items }: { items: Fact[] }) {
  return (
    <dl class="facts">
      {items.map(([label, value, wide]) => (
        <div key={label} class={wide ? 'fact wide' : 'fact'}>
          <dt>{label}</dt>
          <dd>{value ?? <span class="muted">—</span>}</dd>
        </div>
      ))}
    </dl>
  );
}
