// Composition root and CLI entry: `switchboard serve | migrate | keys create …`.
import { Command } from 'commander';
import { createKeyCli } from './cli/keys.js';
import { runMigrate } from './cli/migrate.js';
import { serve } from './cli/serve.js';
import { type Config, ConfigError, loadConfig } from './config/index.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

function config(): Readonly<Config> {
  try {
    return loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}

const program = new Command()
  .name('switchboard')
  .description('Self-hosted multi-tenant messaging gateway')
  .showHelpAfterError();

program
  .command('serve')
  .description('run the gateway (HTTP API, WebSocket events, sessions)')
  .action(async () => serve(config()));

program
  .command('migrate')
  .description('apply pending database migrations')
  .action(async () => runMigrate(config(), out));

const keys = program.command('keys').description('manage API keys');
keys
  .command('create')
  .description('issue a key (printed once)')
  .requiredOption('--kind <kind>', 'admin or company')
  .option('--company <id>', 'company id (for --kind company)')
  .option('--label <label>', 'a label to recognise the key')
  .action(async (o: { kind: string; company?: string; label?: string }) => {
    if (o.kind !== 'admin' && o.kind !== 'company') {
      process.stderr.write('--kind must be admin or company\n');
      process.exit(2);
    }
    await createKeyCli(config(), { kind: o.kind, company: o.company, label: o.label }, out);
  });

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
