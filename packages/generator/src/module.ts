// The metrics-generator module's factory, for the server's module table.

import type { Registry } from 'prom-client';
import type { GeneratorPusher, LimitsProvider, Logger } from '@andante/model';
import type { Service } from '@andante/service';
import type { GeneratorConfig } from './config.js';
import { Generator } from './generator.js';

export interface GeneratorModuleDeps {
  limits: LimitsProvider;
  registry: Registry;
  logger: Logger;
}

export interface GeneratorService extends Service {
  /** Where distributors push spans (in-process under `all`). */
  readonly pusher: GeneratorPusher;
}

export function createGenerator(config: GeneratorConfig, deps: GeneratorModuleDeps): GeneratorService {
  const generator = new Generator({ cfg: config, limits: deps.limits, registry: deps.registry, logger: deps.logger });
  return {
    name: 'metrics-generator',
    pusher: generator,
    start: async () => generator.start(),
    // What it holds goes out in a last collection, within remote_write_flush_deadline.
    stop: () => generator.stop(),
    notReady: () => undefined,
  };
}
