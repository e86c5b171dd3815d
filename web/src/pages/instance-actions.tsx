// Session controls of one instance: start, stop, restart, logout and delete (with confirmation).
import { api, type Instance } from '../api.js';
import { ConfirmButton, ErrorBanner, useAction } from '../ui.js';

export function InstanceActions({
  instance,
  onChanged,
  onDeleted,
}: {
  instance: Instance;
  onChanged: (i: Instance) => void;
  onDeleted: () => void;
}) {
  const { busy, error, setError, run } = useAction();
  const name = instance.name ?? instance.id.slice(0, 8);
  const act = (action: 'start' | 'stop' | 'restart' | 'logout') =>
    run(async () => {
      const r = await api<{ instance: Instance }>(`/api/v1/instances/${instance.id}/${action}`, {
        method: 'POST',
      });
      onChanged(r.instance);
    });
  const running = instance.desired_state === 'running';
  return (
    <div class="actions">
      <div class="row wrap">
        {!running && (
          <button type="button" disabled={busy} onClick={() => act('start')}>
            Start
          </button>
        )}
        {running && (
          <ConfirmButton
            label="Stop"
            question={`Stop ${name}?`}
            disabled={busy}
            onConfirm={() => void act('stop')}
          />
        )}
        <ConfirmButton
          label="Restart"
          question={`Restart ${name}?`}
          disabled={busy}
          onConfirm={() => void act('restart')}
        />
        <ConfirmButton
          label="Logout"
          question={`Log ${name} out of the messenger? A new QR scan will be needed.`}
          confirmLabel="Yes, log out"
          disabled={busy}
          onConfirm={() => void act('logout')}
        />
        <ConfirmButton
          label="Delete"
          question={`Delete ${name} and all its messages?`}
          danger
          disabled={busy}
          onConfirm={() =>
            void run(async () => {
              await api(`/api/v1/instances/${instance.id}`, { method: 'DELETE' });
              onDeleted();
            })
          }
        />
      </div>
      <ErrorBanner error={error} onDismiss={() => setError(null)} />
    </div>
  );
}
