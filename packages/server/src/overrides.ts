// Per-tenant limits: `overrides.defaults` from the config, and per-tenant values from the
// runtime overrides file (Tempo's layout: `overrides: { "<tenant>": { ingestion: ..., global: ... } }`),
// re-read every per_tenant_override_period so a change takes effect without a restart.

import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import type { LimitsProvider, Logger, TenantLimits } from '@andante/model';
import { parseGeneratorOverrides } from '@andante/generator';
import { ConfigError, asConfigError, type LimitsConfig } from './config.js';
import { normalizeTenantLimits } from './config-tempo.js';
import { parseDuration } from '@andante/model';

function toTenantLimits(c: LimitsConfig): TenantLimits {
  return {
    ingestionRateLimitBytes: c.ingestion.rate_limit_bytes,
    ingestionBurstSizeBytes: c.ingestion.burst_size_bytes,
    maxTracesPerUser: c.ingestion.max_traces_per_user,
    maxBytesPerTrace: c.global.max_bytes_per_trace,
    blockRetentionMs: parseDuration(c.compaction.block_retention),
    maxBytesPerTagValuesQuery: c.read.max_bytes_per_tag_values_query,
    metricsGenerator: c.metrics_generator,
  };
}

/** Overlays a tenant's partial overrides on the defaults, rejecting unknown keys. */
function overlay(defaults: LimitsConfig, raw: unknown, path: string, notes: string[]): LimitsConfig {
  const out: LimitsConfig = structuredClone(defaults);
  if (raw === null || raw === undefined) return out;
  if (typeof raw !== 'object') throw new ConfigError(`${path}: expected a mapping`);
  // Either Tempo form (legacy flat or new), Tempo-only keys noted or refused (config-tempo.ts).
  const partial = normalizeTenantLimits(raw, path, JSON.parse(JSON.stringify(defaults)) as Record<string, unknown>, notes);
  for (const [group, values] of Object.entries(partial as Record<string, unknown>)) {
    if (group === 'metrics_generator') {
      out.metrics_generator = asConfigError(() => parseGeneratorOverrides(values, out.metrics_generator, `${path}.metrics_generator`));
      continue;
    }
    const target = (out as unknown as Record<string, Record<string, number | string>>)[group];
    if (!target) throw new ConfigError(`unknown override key ${path}.${group}`);
    for (const [key, value] of Object.entries((values ?? {}) as Record<string, unknown>)) {
      if (!(key in target)) throw new ConfigError(`unknown override key ${path}.${group}.${key}`);
      const keyPath = `${path}.${group}.${key}`;
      if (typeof target[key] === 'string') {
        // Durations, e.g. compaction.block_retention: 720h.
        if (typeof value !== 'string') throw new ConfigError(`${keyPath}: expected a duration such as 720h`);
        try {
          parseDuration(value);
        } catch (err) {
          throw new ConfigError(`${keyPath}: ${(err as Error).message}`);
        }
        target[key] = value;
      } else {
        if (typeof value !== 'number') throw new ConfigError(`${keyPath}: expected a number`);
        target[key] = value;
      }
    }
  }
  return out;
}

export class Overrides implements LimitsProvider {
  private readonly defaults: TenantLimits;
  private perTenant = new Map<string, TenantLimits>();
  private timer: NodeJS.Timeout | undefined;
  /** What the last load of the file noted (Tempo keys accepted without effect, rewritten keys). */
  notes: string[] = [];

  constructor(
    private readonly defaultsConfig: LimitsConfig,
    private readonly file: string,
    private readonly periodMs: number,
    private readonly logger: Logger,
  ) {
    this.defaults = toTenantLimits(defaultsConfig);
  }

  async start(): Promise<void> {
    if (!this.file) return;
    await this.reload(true);
    this.timer = setInterval(() => void this.reload(false), this.periodMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** A bad file fails the start; later a bad edit is logged and the previous overrides stay. */
  private async reload(strict: boolean): Promise<void> {
    try {
      const doc = parseYaml(await readFile(this.file, 'utf8')) as { overrides?: Record<string, unknown> } | null;
      const next = new Map<string, TenantLimits>();
      const notes: string[] = [];
      for (const [tenant, partial] of Object.entries(doc?.overrides ?? {})) {
        next.set(tenant, toTenantLimits(overlay(this.defaultsConfig, partial, `overrides.${tenant}`, notes)));
      }
      this.perTenant = next;
      this.notes = notes;
      if (strict) for (const note of notes) this.logger.warn(note, { file: this.file });
    } catch (err) {
      if (strict) throw new ConfigError(`per_tenant_override_config ${this.file}: ${(err as Error).message}`);
      this.logger.error('could not reload the per-tenant overrides; keeping the previous ones', { file: this.file, err });
    }
  }

  forTenant(tenantId: string): TenantLimits {
    return this.perTenant.get(tenantId) ?? this.defaults;
  }
}
