// `switchboard serve`: open the store, migrate, wire, resume sessions, listen; SIGTERM/SIGINT stop gracefully.
import { buildApp } from '../app.js';
import type { Config } from '../config/index.js';
import { createGateway, prepareGateway, shutdownGateway } from '../gateway.js';
import { createLogger } from '../logger.js';
import { openStore } from '../storage/index.js';

export async function serve(config: Readonly<Config>): Promise<void> {
  const logger = createLogger(config.logLevel);
  const { store, applied } = await openStore(config.database, {
    what: 'start the server',
    onConnectionError: (err) => logger.warn({ err: err.message }, 'database connection lost'),
  });
  if (applied.length) logger.info({ applied }, 'migrations applied');
  const gw = createGateway(config, store, logger);
  const { adminKey } = await prepareGateway(gw);
  const app = await buildApp(gw);
  await app.listen({ port: config.port, host: config.host });
  if (adminKey) {
    // Printed once, to the terminal only (not through the logger, whose output may be shipped elsewhere).
    process.stderr.write(
      `\n  Admin API key (shown once, store it now):\n\n    ${adminKey}\n\n  Use it as: Authorization: Bearer <key>\n\n`,
    );
  }
  // Sessions are resumed by the lease claimer: a single process claims them all, several share them out, and a
  // session whose lease another (older) process still holds is left to it until that lease is released or expires.
  if (gw.cluster) await gw.cluster.start(gw.supervisor);
  else await gw.supervisor.resumeDesired();
  logger.info(
    {
      port: config.port,
      database: store.kind,
      replica_id: gw.cluster?.replicaId,
      providers: gw.providers.list().map((p) => p.name),
    },
    'switchboard listening',
  );

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const timer = setTimeout(() => {
      logger.error('shutdown timed out');
      process.exit(1);
    }, config.shutdownTimeoutMs);
    timer.unref();
    try {
      gw.shuttingDown = true;
      await app.close();
      await shutdownGateway(gw);
      await store.close();
      logger.info('bye');
      logger.flush?.();
      process.exit(0);
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  // `on`, not `once`: Ctrl-C reaches both the launcher (which forwards it) and this process; a second signal
  // during a graceful stop must not kill it with the default action.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
