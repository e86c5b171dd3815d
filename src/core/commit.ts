// One transaction for a change and the events describing it; the events are published only after commit.
import type { GatewayEvent, NewEvent } from '../domain/model.js';
import type { EventBus } from '../ports/event-bus.js';
import type { Repos, Store } from '../ports/store.js';

export type Emit = (e: NewEvent) => Promise<GatewayEvent>;
/** Appends several events in one statement (ids in input order). */
export type EmitMany = (es: readonly NewEvent[]) => Promise<GatewayEvent[]>;

/** Runs fn in a transaction; events appended through `emit` are written in it and published after commit. */
export async function commitWithEvents<T>(
  store: Store,
  bus: EventBus,
  fn: (tx: Repos, emit: Emit, emitMany: EmitMany) => Promise<T>,
): Promise<T> {
  const written: GatewayEvent[] = [];
  const result = await store.tx(async (tx) => {
    const emit: Emit = async (e) => {
      const ev = await tx.events.append(e);
      written.push(ev);
      return ev;
    };
    const emitMany: EmitMany = async (es) => {
      const evs = es.length ? await tx.events.appendMany(es) : [];
      written.push(...evs);
      return evs;
    };
    return fn(tx, emit, emitMany);
  });
  if (written.length) bus.publish(written);
  return result;
}
