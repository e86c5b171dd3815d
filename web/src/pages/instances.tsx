// Instances: a live table with filters, the "New instance" form and per-row session controls.
import { useEffect, useMemo, useState } from 'preact/hooks';
import { api, type GatewayEvent, type Instance } from '../api.js';
import { isEvent, useEvents } from '../events.js';
import {
  Ago,
  Badge,
  companyLabel,
  DataTable,
  ErrorBanner,
  OnceSecret,
  phoneOf,
  useReloader,
  useSecret,
} from '../ui.js';
import { CreateInstance } from './create-instance.js';
import { InstanceActions } from './instance-actions.js';

const MAX_PAGES = 10;
/** The events that change a row (message acks do not). */
const LIST_TYPES = [
  'instance.status',
  'qr',
  'connected',
  'logout',
  'error',
  'message',
  'instance.created',
  'instance.deleted',
];

async function fetchAll(): Promise<Instance[]> {
  const all: Instance[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const q: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const r: { instances: Instance[]; next_cursor: string | null } = await api(
      `/api/v1/instances?limit=200${q}`,
    );
    all.push(...r.instances);
    cursor = r.next_cursor;
    if (!cursor) break;
  }
  return all;
}

/** Applies one live event to the list; returns null when the list must be reloaded. */
export function applyEvent(list: Instance[], e: GatewayEvent): Instance[] | null {
  if (e.type === 'instance.created' || e.type === 'instance.deleted') return null;
  const idx = list.findIndex((i) => i.id === e.instance_id);
  if (idx < 0) return e.instance_id ? null : list;
  const i = { ...list[idx] };
  if (isEvent(e, 'instance.status')) {
    const d = e.data;
    if (typeof d.status === 'string') i.status = d.status;
    if (typeof d.auth_status === 'string') i.auth_status = d.auth_status;
    if (d.account !== undefined) i.account = d.account ?? null;
    if (i.auth_status === 'client_ready') i.has_qr = false;
  } else if (isEvent(e, 'qr')) {
    i.has_qr = true;
    i.auth_status = 'qr_ready';
  } else if (isEvent(e, 'connected')) {
    i.account = e.data.account ?? i.account;
    i.has_qr = false;
  } else if (isEvent(e, 'message')) {
    i.last_activity_at = e.created_at;
  } else if (isEvent(e, 'error')) {
    i.last_error = typeof e.data.message === 'string' ? e.data.message : i.last_error;
  } else {
    return list;
  }
  const next = list.slice();
  next[idx] = i;
  return next;
}

/** The pairing code and the link that come with a new instance's key. */
function NewInstanceExtra() {
  const s = useSecret('new-instance');
  if (!s?.extra) return null;
  return (
    <>
      {s.extra.pairingCode && (
        <p>
          Pairing code: <strong class="pairing-code">{s.extra.pairingCode}</strong> — on the phone open
          WhatsApp → Linked devices → Link with phone number.
        </p>
      )}
      {s.extra.href && (
        <p>
          <a href={s.extra.href}>{s.extra.linkText}</a>
        </p>
      )}
    </>
  );
}

export function InstancesPage() {
  const [list, setList] = useState<Instance[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [reload, scheduleReload] = useReloader();
  const [showCreate, setShowCreate] = useState(false);
  const [text, setText] = useState('');
  const [provider, setProvider] = useState('');
  const [status, setStatus] = useState('');

  useEffect(() => {
    let gone = false;
    fetchAll()
      .then((l) => {
        if (gone) return;
        setList(l);
        setError(null);
      })
      .catch((err) => !gone && setError((err as Error).message));
    return () => {
      gone = true;
    };
  }, [reload]);

  const stream = useEvents({ types: LIST_TYPES }, (e) => {
    setList((cur) => {
      if (!cur) return cur;
      const next = applyEvent(cur, e);
      if (next === null) {
        scheduleReload();
        return cur;
      }
      return next;
    });
  });

  // Changes between the first read and the subscription (or during an outage): read again once live.
  useEffect(() => {
    if (stream === 'live') scheduleReload();
  }, [stream]);

  const providers = useMemo(() => [...new Set((list ?? []).map((i) => i.provider))].sort(), [list]);
  const shown = useMemo(() => {
    const t = text.trim().toLowerCase();
    return (list ?? []).filter(
      (i) =>
        (!provider || i.provider === provider) &&
        (!status ||
          (status === 'connected'
            ? i.auth_status === 'client_ready'
            : status === 'qr'
              ? i.auth_status === 'qr_ready'
              : i.status === status)) &&
        (!t || [i.name, i.id, i.company_id, i.account].some((v) => (v ?? '').toLowerCase().includes(t))),
    );
  }, [list, text, provider, status]);

  const replace = (i: Instance) => setList((cur) => (cur ?? []).map((x) => (x.id === i.id ? i : x)));

  return (
    <>
      <div class="page-head">
        <h1>Instances</h1>
        <span class={`stream ${stream}`} role="status" data-testid="stream">
          {stream === 'live' ? '● live' : stream === 'connecting' ? '○ connecting' : '○ offline, retrying'}
        </span>
        <button
          type="button"
          id="new-instance"
          class="primary"
          onClick={() => setShowCreate((s) => !s)}
          aria-expanded={showCreate}
        >
          {showCreate ? 'Close' : 'New instance'}
        </button>
      </div>
      <OnceSecret slot="new-instance" after="#new-instance">
        <NewInstanceExtra />
      </OnceSecret>
      {showCreate && <CreateInstance onCreated={scheduleReload} />}
      <ErrorBanner error={error} />
      {stream === 'offline' && (
        <p class="banner info">
          Lost contact with the gateway; retrying. Statuses show as unknown until it is back.
        </p>
      )}
      <form class="filters" aria-label="Filter instances" onSubmit={(e) => e.preventDefault()}>
        <label>
          <span class="sr-only">Search instances</span>
          <input
            type="search"
            placeholder="Search name, id, company, account"
            value={text}
            onInput={(e) => setText(e.currentTarget.value)}
          />
        </label>
        <label>
          <span class="sr-only">Filter by provider</span>
          <select value={provider} onChange={(e) => setProvider(e.currentTarget.value)}>
            <option value="">All providers</option>
            {providers.map((p) => (
              <option key={p} value={p}>
                {p}
              </option>
            ))}
          </select>
        </label>
        <label>
          <span class="sr-only">Filter by status</span>
          <select value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">Any status</option>
            <option value="connected">Connected</option>
            <option value="qr">Waiting for QR scan</option>
            <option value="running">Running</option>
            <option value="stopped">Stopped</option>
            <option value="error">Error</option>
          </select>
        </label>
      </form>
      {list === null && !error && <p class="muted">Loading…</p>}
      {list !== null && (
        <DataTable
          label="Instances table"
          tableClass="instances"
          columns={['Name', 'Company', 'Provider', 'Status', 'Login', 'Account', 'Last activity', 'Actions']}
        >
          {shown.length === 0 && (
            <tr>
              <td colSpan={8} class="muted">
                {list.length === 0 ? 'No instances yet. Create one with “New instance”.' : 'Nothing matches.'}
              </td>
            </tr>
          )}
          {shown.map((i) => (
            <tr key={i.id} data-instance={i.id}>
              <td data-label="Name">
                <a href={`#/instances/${i.id}`}>{i.name ?? i.id.slice(0, 8)}</a>
                {i.is_pooled && <span class="tag">pool</span>}
              </td>
              <td data-label="Company">{companyLabel(i.company_id)}</td>
              <td data-label="Provider">{i.provider}</td>
              <td data-label="Status">
                <Badge value={stream === 'offline' ? 'unknown' : i.status} />
              </td>
              <td data-label="Login" class="auth-status">
                <Badge value={stream === 'offline' ? 'unknown' : i.auth_status} />
              </td>
              <td data-label="Account">{phoneOf(i.account) ?? <span class="muted">—</span>}</td>
              <td data-label="Last activity">
                <Ago at={i.last_activity_at} />
              </td>
              <td data-label="Actions">
                <InstanceActions
                  instance={i}
                  onChanged={replace}
                  onDeleted={() => setList((cur) => (cur ?? []).filter((x) => x.id !== i.id))}
                />
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}
