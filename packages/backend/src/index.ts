export type { Backend, KeyPath } from './backend.js';
export { LocalBackend } from './local-backend.js';
export { TEMP_PREFIX, validateSegment, validateKeyPath } from './key-path.js';
