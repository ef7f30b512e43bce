export { Andante, VERSION } from './app.js';
export type { ListenAddresses, RemoteClients, InternalGrpcServer } from './app.js';
export { loadConfig, defaultConfig, applyYaml, validateConfig, parseFlags, parseTarget, expandEnv, ConfigError, TARGETS } from './config.js';
export type { AndanteConfig, Target } from './config.js';
export { MODULES, ALL_MODULES, ModuleError, selectModules, startOrder, stopWaves, checkSelection, servesRemoteCallers } from './modules.js';
export type { ModuleName, InternalModuleName, AnyModuleName, ModuleDef, RemoteTransport, RemoteInterface } from './modules.js';
export { Overrides } from './overrides.js';
export { tempoKeyRules } from './config-tempo.js';
