// Secrets inside lists that have no schema defaults (metrics_generator.storage.remote_write[]: auth,
// headers, TLS keys) cannot be declared as Secrets in the defaults; they are masked by key name
// when the config is printed, with the same mask as Secret.

import { SECRET_MASK } from '@andante/model';

/** Keys whose non-empty values are secrets (S3 credentials, remote_write auth and TLS keys). */
const SECRET_KEYS = new Set(['secret_key', 'session_token', 'password', 'credentials', 'key']);

/** A copy of `value` with every non-empty secret replaced by the mask; headers are kept by name only. */
export function redactSecrets(value: unknown, parentKey = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, parentKey));
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    if (parentKey === 'headers' && typeof v === 'string') out[k] = SECRET_MASK;
    else if (SECRET_KEYS.has(k) && typeof v === 'string' && v !== '') out[k] = SECRET_MASK;
    else out[k] = redactSecrets(v, k);
  }
  return out;
}
