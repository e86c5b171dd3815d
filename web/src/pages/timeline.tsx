// Status timeline of an instance: its lifecycle events replayed from the event log, then live.
import { useState } from 'preact/hooks';
import type { GatewayEvent } from '../api.js';
import { useEvents } from '../events.js';
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

/** One human line per event. */
export function describe(e: GatewayEvent): string {
  const d = e.data;
  const words = (v: unknown) => String(v ?? '').replaceAll('_', ' ');
  switch (e.type) {
    case 'instance.created':
      return 'Instance created';
    case 'instance.status':
      return `${statusWords(String(d.status ?? ''))} · ${statusWords(String(d.auth_status ?? ''))}${d.reason ? ` (${words(d.reason)})` : ''}`;
    case 'connected':
      return `Connected${d.account ? ` as ${phoneOf(String(d.account))}` : ''}`;
    case 'logout':
      return `Logged out${d.reason ? ` (${words(d.reason)})` : ''}`;
    case 'error':
      return `Error: ${d.message ?? 'unknown'}`;
    default:
      return e.type.replaceAll('_', ' ');
  }
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
