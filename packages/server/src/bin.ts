#!/usr/bin/env node
// The `andante` binary: `andante -config.file=andante.yaml -target=all`.

import { Andante } from './app.js';
import { ConfigError, loadConfig } from './config.js';

async function main(): Promise<void> {
  let app: Andante;
  try {
    app = new Andante(loadConfig(process.argv.slice(2)));
  } catch (err) {
    process.stderr.write(`andante: ${(err as Error).message}\n`);
    process.exit(err instanceof ConfigError ? 2 : 1);
  }
  const shutdown = (signal: string): void => {
    app.logger.info('shutting down', { signal });
    app.stop().then(
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
  } catch (err) {
    app.logger.error('start failed', { err });
    await app.stop().catch(() => undefined);
    process.exit(1);
  }
}

void main();
