export { configSchema, DEFAULT_SNAPSHOT_WORKERS, type Config, type ConfigInput } from "./schema.js";
export { ENV_KEYS, ENV_PREFIX, applyEnvOverrides, type EnvKey } from "./env.js";
export { ConfigError, loadConfig, loadServiceConfig, parseConfig, type ConfigProblem, type LoadConfigOptions } from "./load.js";
export { readSecretFile } from "./secrets.js";
export { SASL_MECHANISMS } from "./schema.js";
