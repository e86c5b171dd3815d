// MCP settings of an instance: the endpoint, the safety settings (mcp_schema), pending approvals and the audit log.
import { useEffect, useState } from 'preact/hooks';
import { ApiError, api, type Instance } from '../api.js';
import { Ago, Badge, ConfirmButton, DataTable, ErrorBanner, NotAvailable, useAction } from '../ui.js';

type Row = Record<string, unknown>;
const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));

function listOf(r: unknown, keys: string[]): Row[] {
  if (Array.isArray(r)) return r as Row[];
  const o = (r ?? {}) as Row;
  for (const k of keys) if (Array.isArray(o[k])) return o[k] as Row[];
  return [];
}

export function McpPanel({ instance, onChanged }: { instance: Instance; onChanged: (i: Instance) => void }) {
  const base = `/api/v1/instances/${instance.id}/mcp`;
  const enabled = instance.type_instance.includes('mcp');
  const [schema, setSchema] = useState(JSON.stringify(instance.mcp_schema ?? {}, null, 2));
  const [audit, setAudit] = useState<Row[] | null | false>(null);
  const [approvals, setApprovals] = useState<Row[]>([]);
  const [reload, setReload] = useState(0);
  const { busy, error, setError, run } = useAction();

  useEffect(() => {
    if (!enabled) return;
    let gone = false;
    api(`${base}/audit?limit=50`)
      .then((r) => !gone && setAudit(listOf(r, ['audit', 'entries', 'items'])))
      .catch(
        (err) => !gone && (err instanceof ApiError && err.missingRoute ? setAudit(false) : setAudit([])),
      );
    api(`${base}/approvals?status=pending`)
      .then((r) => !gone && setApprovals(listOf(r, ['approvals', 'items'])))
      .catch(() => !gone && setApprovals([]));
    return () => {
      gone = true;
    };
  }, [base, enabled, reload]);

  const patch = (body: Row) =>
    run(async () => {
      const r = await api<{ instance: Instance }>(`/api/v1/instances/${instance.id}`, {
        method: 'PATCH',
        body,
      });
      onChanged(r.instance);
    });

  const saveSchema = async (e: Event) => {
    e.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(schema || '{}');
    } catch {
      return setError('The MCP settings are not valid JSON.');
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
      return setError('The MCP settings must be a JSON object.');
    await patch({ mcp_schema: parsed });
  };

  const decide = (id: string, decision: 'approve' | 'reject') =>
    run(async () => {
      await api(`${base}/approvals/${id}`, { body: { decision } });
      setReload((n) => n + 1);
    });

  return (
    <section aria-label="MCP">
      <h2 class="sr-only">MCP</h2>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      {!enabled ? (
        <>
          <p>This instance is not exposed as an MCP server.</p>
          <button type="button" disabled={busy} onClick={() => void patch({ type_instance: ['api', 'mcp'] })}>
            Enable MCP
          </button>
        </>
      ) : (
        <>
          <p>
            Streamable HTTP endpoint: <code>{`${location.origin}/mcp/${instance.id}`}</code> (bearer: the
            instance key). Desktop clients:{' '}
            <code>switchboard mcp --instance {instance.id} --url … --key …</code>
          </p>
          <form onSubmit={saveSchema}>
            <label for="mcp-schema">
              Safety settings (JSON: allowed tools, recipient allowlist, approval)
            </label>
            <textarea
              id="mcp-schema"
              rows={8}
              class="mono"
              spellcheck={false}
              value={schema}
              onInput={(e) => setSchema(e.currentTarget.value)}
            />
            <div class="row wrap">
              <button type="submit" class="primary" disabled={busy}>
                Save MCP settings
              </button>
              <ConfirmButton
                label="Disable MCP"
                question="Stop serving MCP? Connected AI clients lose access."
                confirmLabel="Yes, disable"
                disabled={busy}
                onConfirm={() => void patch({ type_instance: ['api'] })}
              />
            </div>
          </form>
          {approvals.length > 0 && (
            <>
              <h3>Waiting for approval</h3>
              <ul class="plain">
                {approvals.map((a) => {
                  const req = (a.request ?? {}) as Row;
                  return (
                    <li key={str(a.id)}>
                      <strong>{str(a.tool)}</strong> to <code>{str(req.to)}</code>: {str(req.text)}{' '}
                      <ConfirmButton
                        label="Approve"
                        question="Send this message now?"
                        confirmLabel="Yes, send"
                        disabled={busy}
                        onConfirm={() => void decide(str(a.id), 'approve')}
                      />{' '}
                      <ConfirmButton
                        label="Reject"
                        question="Reject this send? The AI client is told it was refused."
                        confirmLabel="Yes, reject"
                        danger
                        disabled={busy}
                        onConfirm={() => void decide(str(a.id), 'reject')}
                      />
                    </li>
                  );
                })}
              </ul>
            </>
          )}
          <h3>Audit log</h3>
          {audit === false ? (
            <NotAvailable what="The MCP audit log" />
          ) : audit === null ? (
            <p class="muted">Loading…</p>
          ) : audit.length === 0 ? (
            <p class="muted">No tool calls yet.</p>
          ) : (
            <DataTable label="MCP audit log" columns={['Tool', 'Outcome', 'Latency', 'When']}>
              {audit.map((a) => (
                <tr key={str(a.id)}>
                  <td data-label="Tool">{str(a.tool)}</td>
                  <td data-label="Outcome">
                    <Badge value={str(a.outcome)} />{' '}
                    {a.code ? <span class="muted">{str(a.code)}</span> : null}
                  </td>
                  <td data-label="Latency">{str(a.latency_ms)} ms</td>
                  <td data-label="When">
                    <Ago at={str(a.created_at) || null} />
                  </td>
                </tr>
              ))}
            </DataTable>
          )}
        </>
      )}
    </section>
  );
}
