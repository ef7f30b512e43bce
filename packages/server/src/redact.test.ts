import { describe, expect, it } from 'vitest';
import { applyYaml, defaultConfig } from './config.js';
import { redactSecrets } from './redact.js';

describe('redactSecrets', () => {
  it('hides remote_write auth, headers, TLS keys and S3 credentials, and keeps the rest', () => {
    const cfg = defaultConfig();
    applyYaml(
      cfg,
      `metrics_generator:
  storage:
    remote_write:
      - url: https://mimir/api/v1/push
        headers: { X-Api-Key: abc }
        basic_auth: { username: u, password: hunter2 }
        tls_config: { key: "-----BEGIN PRIVATE KEY-----", key_file: /k.pem }
      - url: https://other/api/v1/push
        authorization: { credentials: tok }
storage:
  trace:
    s3: { bucket: b, access_key: AK, secret_key: SK, session_token: ST }
`,
    );
    const text = JSON.stringify(redactSecrets(cfg));
    for (const secret of ['hunter2', 'abc', 'BEGIN PRIVATE KEY', '"SK"', '"ST"', '"tok"']) expect(text).not.toContain(secret);
    const r = redactSecrets(cfg) as typeof cfg;
    expect(r.metrics_generator.storage.remote_write[0]!.basic_auth).toEqual({ username: 'u', password: '********' });
    expect(r.metrics_generator.storage.remote_write[0]!.headers).toEqual({ 'X-Api-Key': '********' });
    expect(r.metrics_generator.storage.remote_write[0]!.tls_config.key_file).toBe('/k.pem');
    expect(r.storage.trace.s3.access_key).toBe('AK');
    expect(r.storage.trace.s3.bucket).toBe('b');
    expect(cfg.storage.trace.s3.secret_key.reveal()).toBe('SK'); // the original is untouched
  });
});
