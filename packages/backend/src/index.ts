export type { Backend, KeyPath } from './backend.js';
export { LocalBackend } from './local-backend.js';
export { TEMP_PREFIX, validateSegment, validateKeyPath } from './key-path.js';
export { S3Backend, S3BackendError, defaultS3Config, validateS3Config, DEFAULT_PART_SIZE, S3_MIN_PART_SIZE } from './s3-backend.js';
export type { S3Config, S3BackendOptions, S3RequestOp, S3RequestInfo } from './s3-backend.js';
export { defaultS3StorageConfig, s3BackendConfig, type S3StorageConfig } from './s3-storage-config.js';
