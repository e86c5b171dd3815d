// The "New instance" form: company, provider (token for Telegram, pairing code for WhatsApp), name and type.
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, currentCredential, type Instance } from '../api.js';
import { ErrorBanner, setSecret, useAction } from '../ui.js';

interface Company {
  id: string;
  name: string;
}

const PROVIDERS = [
  { value: 'simulator', label: 'Simulator (testing)' },
  { value: 'whatsapp', label: 'WhatsApp (Baileys)' },
  { value: 'telegram', label: 'Telegram bot' },
  { value: 'waha', label: 'WAHA' },
];

export function CreateInstance({ onCreated }: { onCreated: (i: Instance) => void }) {
  const [companies, setCompanies] = useState<Company[]>([]);
  const [company, setCompany] = useState('');
  const [provider, setProvider] = useState('simulator');
  const [name, setName] = useState('');
  const [token, setToken] = useState('');
  const [mcp, setMcp] = useState(false);
  const [pairing, setPairing] = useState(false);
  const [phone, setPhone] = useState('');
  const touched = useRef(false);
  const [newCompany, setNewCompany] = useState('');
  const { busy, error, setError, run } = useAction();
  const isAdmin = currentCredential()?.token.startsWith('sb_admin_') ?? false;

  const loadCompanies = () =>
    api<{ companies: Company[] }>('/api/v1/companies')
      .then((r) => {
        setCompanies(r.companies);
        // Pre-fill only a field the user has not typed in yet.
        if (!touched.current) setCompany((c) => c || r.companies[0]?.id || '');
      })
      .catch(() => setCompanies([]));
  useEffect(() => {
    void loadCompanies();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!company.trim()) return setError('Choose a company (admins can add one below).');
    if (provider === 'telegram' && !token.trim()) return setError('A Telegram instance needs its bot token.');
    if (pairing && !phone.trim()) return setError('Enter the phone number to link with a pairing code.');
    await run(async () => {
      const body: Record<string, unknown> = {
        company_id: company.trim(),
        provider,
        type_instance: mcp ? ['api', 'mcp'] : ['api'],
      };
      if (name.trim()) body.name = name.trim();
      if (provider === 'telegram') body.token = token.trim();
      const r = await api<{ instance: Instance; api_key: string }>('/api/v1/instances', { body });
      let code: string | undefined;
      if (pairing && provider !== 'telegram') {
        try {
          const p = await api<{ code: string }>(`/api/v1/instances/${r.instance.id}/pairing-code`, {
            body: { phone: phone.trim() },
          });
          code = p.code;
        } catch (err) {
          setError(`The instance was created, but no pairing code: ${(err as Error).message}`);
        }
      }
      const label = r.instance.name ?? r.instance.id.slice(0, 8);
      setSecret('new-instance', {
        label: `API key of ${label}`,
        value: r.api_key,
        extra: { pairingCode: code, href: `#/instances/${r.instance.id}`, linkText: `Open ${label} →` },
      });
      setName('');
      setToken('');
      onCreated(r.instance);
    });
  };

  const addCompany = async () => {
    const id = newCompany.trim();
    if (!id) return;
    await run(async () => {
      await api('/api/v1/companies', { body: { id, name: id } });
      setNewCompany('');
      touched.current = true;
      setCompany(id);
      await loadCompanies();
    });
  };

  return (
    <section class="card" aria-labelledby="create-title">
      <h2 id="create-title">New instance</h2>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
      <form class="grid-form" onSubmit={submit}>
        <label for="ci-company">Company</label>
        {/* One input for the whole life of the form: it never turns into another control while typing. */}
        <input
          id="ci-company"
          list="ci-companies"
          autoComplete="off"
          value={company}
          onInput={(e) => {
            touched.current = true;
            setCompany(e.currentTarget.value);
          }}
        />
        <datalist id="ci-companies">
          {companies.map((c) => (
            <option key={c.id} value={c.id}>
              {c.name === c.id ? c.id : c.name}
            </option>
          ))}
        </datalist>
        <label for="ci-provider">Provider</label>
        <select
          key="provider"
          id="ci-provider"
          value={provider}
          onChange={(e) => setProvider(e.currentTarget.value)}
        >
          {PROVIDERS.map((p) => (
            <option key={p.value} value={p.value}>
              {p.label}
            </option>
          ))}
        </select>
        <label for="ci-name">Name</label>
        <input
          id="ci-name"
          value={name}
          maxLength={100}
          placeholder="optional"
          onInput={(e) => setName(e.currentTarget.value)}
        />
        {provider === 'telegram' && (
          <>
            <label for="ci-token">Bot token</label>
            <input
              id="ci-token"
              type="password"
              autoComplete="off"
              value={token}
              placeholder="123456:ABC…"
              onInput={(e) => setToken(e.currentTarget.value)}
            />
          </>
        )}
        {(provider === 'whatsapp' || provider === 'simulator') && (
          <>
            <span />
            <label class="check">
              <input
                type="checkbox"
                checked={pairing}
                onChange={(e) => setPairing(e.currentTarget.checked)}
              />
              Link with a pairing code instead of a QR
            </label>
            {pairing && (
              <>
                <label for="ci-phone">Phone number</label>
                <input
                  id="ci-phone"
                  type="tel"
                  value={phone}
                  placeholder="+15550001234"
                  onInput={(e) => setPhone(e.currentTarget.value)}
                />
              </>
            )}
          </>
        )}
        <span />
        <label class="check">
          <input type="checkbox" checked={mcp} onChange={(e) => setMcp(e.currentTarget.checked)} />
          Also expose as an MCP server
        </label>
        <span />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create instance'}
        </button>
      </form>
      {isAdmin && (
        <details>
          <summary>Add a company</summary>
          <div class="row">
            <label for="new-company" class="sr-only">
              New company id
            </label>
            <input
              id="new-company"
              value={newCompany}
              placeholder="acme"
              onInput={(e) => setNewCompany(e.currentTarget.value)}
            />
            <button type="button" disabled={busy} onClick={addCompany}>
              Add company
            </button>
          </div>
        </details>
      )}
    </section>
  );
}
