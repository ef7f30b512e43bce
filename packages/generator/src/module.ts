// The metrics-generator module's factory, for the server's module table.

import type { Registry } from 'prom-client';
import { InvalidArgumentError, UnavailableError, isAndanteError, type GeneratorPusher, type LimitsProvider, type Logger } from '@andante/model';
import { PUSH_SPANS_METHOD, decodePushSpansRequest } from '@andante/generator-client';
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
  let started = false;
  let stopping = false;
  return {
    name: 'metrics-generator',
    pusher: generator,
    start: async () => {
      generator.start();
      started = true;
    },
    // What it holds goes out in a last collection, within remote_write_flush_deadline.
    stop: () => {
      stopping = true;
      return generator.stop();
    },
    notReady: () => undefined,
    // Distributors in other processes push here. The request codec refuses a malformed message;
    // the segments' bytes are decoded by the generator before any processor runs, so a decode
    // failure there is the sender's bad input too: INVALID_ARGUMENT, never a crash.
    grpc: {
      listener: 'internal',
      methods: new Map(),
      unary: new Map([
        [
          PUSH_SPANS_METHOD,
          async ({ request }) => {
            if (!started || stopping) throw new UnavailableError(`metrics-generator is ${stopping ? 'stopping' : 'starting'}`);
            const req = decodePushSpansRequest(request);
            try {
              generator.pushSpansSync(req);
            } catch (err) {
              if (isAndanteError(err)) throw err;
              throw new InvalidArgumentError(`malformed trace segment: ${(err as Error).message}`);
            }
            return new Uint8Array(0);
          },
        ],
      ]),
    },
  };
}
