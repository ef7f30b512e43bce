#!/usr/bin/env node
// The `andante` binary: `andante -config.file=andante.yaml -target=all`.

import { silentLogger } from '@andante/model';
import type { Andante } from './app.js';
import { ConfigError, durationMs, loadConfig, parseFlags, type AndanteConfig } from './config.js';
import { Overrides } from './overrides.js';
import { configWarnings } from './config-warnings.js';

/**
 * `-config.verify` (Tempo's flag): load and validate the config and the per-tenant overrides file it
 * names, print `ok` or the error (and on stderr what start would log about the config), and exit 0
 * or 1 without starting anything.
 */
async function verify(argv: readonly string[]): Promise<never> {
  try {
    const cfg: AndanteConfig = loadConfig(argv);
    const file = cfg.overrides.per_tenant_override_config;
    if (file) {
      const overrides = new Overrides(cfg.overrides.defaults, file, durationMs(cfg.overrides.per_tenant_override_period), silentLogger);
      await overrides.start();
      overrides.stop();
      for (const note of overrides.notes) process.stderr.write(`andante: ${file}: ${note}\n`);
    }
    // What start would log: Tempo keys accepted without effect, keys read under another name.
    for (const note of configWarnings(cfg)) process.stderr.write(`andante: ${note}\n`);
    process.stdout.write('ok\n');
    process.exit(0);
  } catch (err) {
    process.stderr.write(`andante: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  let app: Andante;
  try {
    if (parseFlags(argv).verify) await verify(argv);
    // Loaded here so -config.verify does not pay for every module's code.
    const { Andante: App } = await import('./app.js');
    app = new App(loadConfig(argv));
  } catch (err) {
    process.stderr.write(`andante: ${(err as Error).message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  // Node's own warnings (a deprecation, the AWS SDK's notice about Node versions) become entries of
  // the JSON log instead of raw lines on stderr that log collectors cannot parse.
  process.removeAllListeners('warning');
  process.on('warning', (w) => app.logger.warn('node warning', { name: w.name, warning: w.message }));
  const shutdown = (signal: string): void => {
    app.logger.info('shutting down', { signal });
    app.shutdown().then(
      () => process.exit(0),
      (err: unknown) => {
        app.logger.error('shutdown failed', { err });
        process.exit(1);
      },
    );
  };
  // A bug in a background loop must not take acknowledged data down with the process: log it.
  process.on('unhandledRejection', (err) => app.logger.error('unhandled rejection', { err }));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  try {
    await app.start();
    // /shutdown stops the modules (an ingester flushes and leaves the ring); then the process exits.
    void app.stopped.then(() => process.exit(0));
  } catch (err) {
    app.logger.error('start failed', { err });
    await app.stop().catch(() => undefined);
    process.exit(1);
  }
}

void main();
