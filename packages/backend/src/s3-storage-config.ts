// Tempo's `storage.trace.s3` block as it is configured: the credentials are Secrets, masked wherever
// the config is printed (access_key, an identifier, is not); the S3 backend gets them revealed.

import { Secret } from '@andante/model';
import { defaultS3Config, type S3Config } from './s3-backend.js';

export type S3StorageConfig = Omit<S3Config, 'secret_key' | 'session_token'> & { secret_key: Secret; session_token: Secret };

/** Tempo's defaults, credentials empty (the AWS SDK's default chain supplies them). */
export function defaultS3StorageConfig(): S3StorageConfig {
  return { ...defaultS3Config(), secret_key: new Secret(), session_token: new Secret() };
}

/** The S3 backend's settings, credentials revealed: for the backend only. */
export function s3BackendConfig(c: S3StorageConfig): S3Config {
  return { ...c, secret_key: c.secret_key.reveal(), session_token: c.session_token.reveal() };
}
