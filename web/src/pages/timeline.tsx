// Status timeline of an instance: its lifecycle events replayed from the event log, then live.
import { useState } from 'preact/hooks';
import type { GatewayEvent } from '../api.js';
import { isEvent, useEvents } from '../events.js';
import { Ago, phoneOf, words as statusWords } from '../ui.js';

const TYPES = [
  'instance.created',
  'instance.status',
  'connected',
  'logout',
  'error',
  'reconnect_failed',
  'health_check_failed',
  'webhook.exhausted',
  'agent.failed',
];
const KEEP = 300;

/** One human line per event (its `data` read through the event's own type, src/domain/events.ts). */
export function describe(e: GatewayEvent): string {
  const words = (v: string | undefined) => String(v ?? '').replaceAll('_', ' ');
  const because = (reason: string | undefined) => (reason ? ` (${words(reason)})` : '');
  if (isEvent(e, 'instance.created')) return 'Instance created';
  if (isEvent(e, 'instance.status')) {
    const { status, auth_status, reason } = e.data;
    return `${statusWords(status ?? '')} · ${statusWords(auth_status ?? '')}${because(reason)}`;
  }
  if (isEvent(e, 'connected')) return `Connected${e.data.account ? ` as ${phoneOf(e.data.account)}` : ''}`;
  if (isEvent(e, 'logout')) return `Logged out${because(e.data.reason)}`;
  if (isEvent(e, 'error')) return `Error: ${e.data.message ?? 'unknown'}`;
  return e.type.replaceAll('_', ' ');
}

export function TimelinePanel({ instanceId }: { instanceId: string }) {
  const [events, setEvents] = useState<GatewayEvent[]>([]);
  const stream = useEvents({ instance_id: instanceId, types: TYPES, since: 0 }, (e) =>
    setEvents((cur) => [e, ...cur].slice(0, KEEP)),
  );
  return (
    <section aria-label="Status timeline">
      <h2 class="sr-only">Timeline</h2>
      {events.length === 0 && (
        <p class="muted">{stream === 'live' ? 'No events yet.' : 'Loading the event log…'}</p>
      )}
      <ol class="timeline">
        {events.map((e) => (
          <li key={e.id} class={`ev ev-${e.type.replace('.', '-')}`}>
            <span class="ev-time">
              <Ago at={e.created_at} />
            </span>
            <span class="ev-text">{describe(e)}</span>
          </li>
        ))}
      </ol>
    </section>
  );
}
