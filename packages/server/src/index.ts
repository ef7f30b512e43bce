export { Andante, VERSION } from './app.js';
export type { ListenAddresses } from './app.js';
export { loadConfig, defaultConfig, applyYaml, validateConfig, parseFlags, ConfigError, TARGETS } from './config.js';
export type { AndanteConfig, Target } from './config.js';
export { Secret, SECRET_MASK } from './secret.js';
export type { S3StorageConfig } from './config.js';
