// Pool page: warm-pool counters (GET /api/v1/pool) and the pooled instances with their assignment.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Instance } from '../api.js';
import { useEvents } from '../events.js';
import { Badge, companyLabel, DataTable, ErrorBanner, NotAvailable } from '../ui.js';

/** The pool counters in words, in this order; unknown counters follow with their key in words. */
const COUNTERS: Record<string, string> = {
  enabled: 'Pool enabled',
  provider: 'Provider',
  size: 'Instances in the pool',
  free: 'Free',
  ready: 'Ready to scan',
  in_use: 'In use',
  target: 'Target size',
  min_free: 'Minimum free',
  refill: 'Added per refill',
  refilling: 'Refilling now',
};

function tileValue(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  return String(v);
}

type Row = Record<string, unknown>;

const KEYS = Object.keys(COUNTERS);
const order = (k: string) => (KEYS.includes(k) ? KEYS.indexOf(k) : KEYS.length);

export function PoolPage() {
  const [stats, setStats] = useState<Row | null | false>(null);
  const [pooled, setPooled] = useState<Instance[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const [forbidden, setForbidden] = useState(false);

  useEffect(() => {
    let gone = false;
    api<Row>('/api/v1/pool')
      .then((r) => !gone && setStats((r.pool as Row | undefined) ?? r))
      .catch((err) => {
        if (gone) return;
        if (err instanceof ApiError && (err.missingRoute || err.status === 404)) setStats(false);
        else if (err instanceof ApiError && err.status === 403) setForbidden(true);
        else setError((err as Error).message);
      });
    api<{ instances: Instance[] }>('/api/v1/instances?limit=200')
      .then((r) => !gone && setPooled(r.instances.filter((i) => i.is_pooled)))
      .catch((err) => !gone && setError((err as Error).message));
    return () => {
      gone = true;
    };
  }, [reload]);

  useEvents(
    { types: ['instance.status', 'connected', 'logout', 'instance.created', 'instance.deleted'] },
    () => setReload((n) => n + 1),
  );

  const tiles = stats
    ? Object.entries(stats)
        .filter(([, v]) => typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')
        .sort(([a], [b]) => order(a) - order(b))
    : [];

  return (
    <>
      <div class="page-head">
        <h1>Warm pool</h1>
      </div>
      <ErrorBanner error={error} />
      {stats === false && <NotAvailable what="The warm pool" />}
      {forbidden && <p class="muted">The pool counters are shown to the admin key only.</p>}
      {stats === null && !error && !forbidden && <p class="muted">Loading…</p>}
      {tiles.length > 0 && (
        <dl class="tiles">
          {tiles.map(([k, v]) => (
            <div key={k} class="tile">
              <dt>{COUNTERS[k] ?? k.replaceAll('_', ' ')}</dt>
              <dd>{tileValue(v)}</dd>
            </div>
          ))}
        </dl>
      )}
      <h2>Pooled instances</h2>
      {pooled.length === 0 ? (
        <p class="muted">No pooled instances.</p>
      ) : (
        <DataTable label="Pooled instances" columns={['Instance', 'Provider', 'Login', 'Assigned to']}>
          {pooled.map((i) => (
            <tr key={i.id}>
              <td data-label="Instance">
                <a href={`#/instances/${i.id}`}>{i.name ?? i.id.slice(0, 8)}</a>
              </td>
              <td data-label="Provider">{i.provider}</td>
              <td data-label="Login">
                <Badge value={i.auth_status} />
              </td>
              <td data-label="Assigned to">
                {i.assigned_to ? companyLabel(i.assigned_to) : <span class="muted">free</span>}
              </td>
            </tr>
          ))}
        </DataTable>
      )}
    </>
  );
}
