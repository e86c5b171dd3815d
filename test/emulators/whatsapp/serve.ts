// Standalone runner: starts the emulator and its HTTP control server, prints one JSON line with the endpoints.
import { startControlServer } from './control-server.js';
import { WhatsAppEmulator } from './emulator.js';

const emulator = await WhatsAppEmulator.start({
  port: Number(process.env.WA_EMULATOR_PORT ?? 0),
  host: process.env.WA_EMULATOR_HOST ?? '127.0.0.1',
  // WA_EMULATOR_MEDIA=1: media hosts too; the line then carries `mediaCa` (PEM) for the gateway's NODE_EXTRA_CA_CERTS.
  media: process.env.WA_EMULATOR_MEDIA === '1',
});
const control = await startControlServer(emulator, Number(process.env.WA_EMULATOR_CONTROL_PORT ?? 0));
process.stdout.write(
  `${JSON.stringify({ url: emulator.url, controlUrl: control.url, rootPublicKey: emulator.rootPublicKey.toString('base64'), mediaCa: emulator.media?.ca.toString() })}\n`,
);
const stop = async (): Promise<void> => {
  await control.close();
  await emulator.close();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
