// A config value that must never be shown: Tempo's (dskit's) flagext.Secret. A key is made secret
// by giving it a Secret default in its package's config (the ring's kvstore password, the server's
// S3 credentials); from then on every way of printing the config masks it (JSON and YAML through
// toJSON, util.inspect, template strings), and code that needs the value asks for it with reveal().
// Here so every component package can type its own secret-holding config.

import { inspect } from 'node:util';

/** What a set secret prints as; an unset one prints as '' (dskit's MarshalYAML). */
export const SECRET_MASK = '********';

export class Secret {
  readonly #value: string;

  constructor(value = '') {
    this.#value = value;
  }

  /** The value itself, for the one place that uses it (a client's credentials). */
  reveal(): string {
    return this.#value;
  }

  toJSON(): string {
    return this.#value === '' ? '' : SECRET_MASK;
  }

  toString(): string {
    return this.toJSON();
  }

  [inspect.custom](): string {
    return this.toJSON();
  }
}
