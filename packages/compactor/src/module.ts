// The compactor module: Tempo's `compactor:` keys and the factory the module table calls. It
// needs only the backend, so `-target=compactor` runs as its own process against a shared
// bucket or directory.

import { parseDuration } from '@andante/model';
import { defaultBasicRingConfig, type BasicRingConfig } from '@andante/ring';
import type { Service } from '@andante/service';
import { Compactor, type CompactorDeps } from './compactor.js';
import { defaultCompactorConfig } from './config.js';

/** Tempo's `compactor:` block as Andante reads it (durations as Go strings). */
export interface CompactorModuleConfig {
  compaction: {
    block_retention: string;
    compacted_block_retention: string;
    compaction_window: string;
    max_compaction_objects: number;
    max_block_bytes: number;
    compaction_cycle: string;
    compaction_disabled: boolean;
    /** Andante: a block folder without meta.json is deleted after this (Tempo leaves it to bucket lifecycle rules). */
    orphaned_block_grace_period: string;
    /** Andante: encoded bytes buffered for one compaction output; larger jobs are cut into several blocks. */
    output_block_buffer_bytes: number;
  };
  /** Tempo's `compactor.ring`: the compactors' ring, over which they share the jobs (the server builds it). */
  ring: BasicRingConfig;
}

export function defaultCompactorModuleConfig(): CompactorModuleConfig {
  const d = defaultCompactorConfig();
  return {
    compaction: {
      block_retention: '336h',
      compacted_block_retention: '1h',
      compaction_window: '1h',
      max_compaction_objects: d.maxCompactionObjects,
      max_block_bytes: d.maxBlockBytes,
      compaction_cycle: '30s',
      compaction_disabled: false,
      orphaned_block_grace_period: '1h',
      output_block_buffer_bytes: d.outputBlockBufferBytes,
    },
    ring: defaultCompactorRingConfig(),
  };
}

/** Tempo's `compactor.ring` defaults: heartbeat_timeout 1m (Tempo's for compactors), heartbeat_period 5s. */
export function defaultCompactorRingConfig(): BasicRingConfig {
  return defaultBasicRingConfig('1m');
}

/** Durations in `compactor.compaction` that must parse (checked when the config loads). */
export const COMPACTION_DURATION_KEYS = ['block_retention', 'compacted_block_retention', 'compaction_window', 'compaction_cycle', 'orphaned_block_grace_period'] as const;

/** What the module is given besides its config: the compactor's own deps, minus what the factory derives. */
export type CompactorModuleDeps = Omit<CompactorDeps, 'cfg' | 'now'>;

export interface CompactorService extends Service {
  readonly compactor: Compactor;
}

export function createCompactor(config: CompactorModuleConfig, deps: CompactorModuleDeps): CompactorService {
  const c = config.compaction;
  const d = defaultCompactorConfig();
  const compactor = new Compactor({
    cfg: {
      blockRetentionMs: parseDuration(c.block_retention),
      compactedBlockRetentionMs: parseDuration(c.compacted_block_retention),
      compactionWindowMs: parseDuration(c.compaction_window),
      maxCompactionObjects: c.max_compaction_objects,
      maxBlockBytes: c.max_block_bytes,
      compactionCycleMs: parseDuration(c.compaction_cycle),
      orphanedBlockGracePeriodMs: parseDuration(c.orphaned_block_grace_period),
      outputBlockBufferBytes: c.output_block_buffer_bytes,
      minInputBlocks: d.minInputBlocks,
      maxInputBlocks: d.maxInputBlocks,
    },
    ...deps,
  });
  return {
    name: 'compactor',
    compactor,
    // compaction_disabled: the module runs (and is a compactor ring member) but never compacts.
    start: async () => {
      if (!c.compaction_disabled) compactor.start();
    },
    stop: () => compactor.stop(),
    notReady: () => undefined,
  };
}
