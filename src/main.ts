// Composition root and CLI entry: `switchboard serve | migrate | keys create …`.
import { Command } from 'commander';
import { runImportLegacy } from './cli/import-legacy.js';
import { createKeyCli } from './cli/keys.js';
import { runMcpStdio } from './cli/mcp.js';
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

program
  .command('mcp')
  .description('serve an instance as a stdio MCP server (for desktop MCP clients), via a running gateway')
  .requiredOption('--instance <id>', 'instance id (its type_instance must include mcp)')
  .requiredOption('--url <url>', 'gateway base URL, e.g. http://127.0.0.1:3000')
  .option('--key <key>', 'the instance API key (or a company key); default: env SWITCHBOARD_API_KEY')
  .action(async (o: { instance: string; url: string; key?: string }) => {
    const key = o.key ?? process.env.SWITCHBOARD_API_KEY;
    if (!key) {
      process.stderr.write('--key (or the SWITCHBOARD_API_KEY environment variable) is required\n');
      process.exit(2);
    }
    await runMcpStdio({ instance: o.instance, url: o.url, key });
  });

program
  .command('import-legacy')
  .description('copy the old layout (message_instances.user_id, messages) into this schema, idempotently')
  .option('--from-schema <schema>', 'schema holding the old tables', 'ai')
  .option('--dry-run', 'report what would be imported, write nothing', false)
  .action(async (o: { fromSchema: string; dryRun: boolean }) =>
    runImportLegacy(config(), { fromSchema: o.fromSchema, dryRun: o.dryRun }, out),
  );

program.parseAsync(process.argv).catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
