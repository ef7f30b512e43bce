import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { defaultQuerierModuleConfig, validateQuerierModuleConfig } from './module.js';

describe('querier config', () => {
  it("has Tempo's defaults: query timeouts 30s (search) and 10s (trace by ID), query_relevant_ingesters off", () => {
    expect(defaultQuerierModuleConfig()).toEqual({
      max_concurrent_queries: 20,
      frontend_worker: { frontend_address: '', dns_lookup_duration: '10s', parallelism: 2, match_max_concurrent: true, id: hostname() },
      search: { query_timeout: '30s' },
      trace_by_id: { query_timeout: '10s' },
      query_relevant_ingesters: false,
    });
  });

  it('validation names the key and the value', () => {
    const d = defaultQuerierModuleConfig();
    expect(() => validateQuerierModuleConfig({ ...d, max_concurrent_queries: 0 }, 'querier')).toThrow('querier.max_concurrent_queries: expected a positive integer, got 0');
    expect(() => validateQuerierModuleConfig({ ...d, frontend_worker: { ...d.frontend_worker, parallelism: 1.5 } }, 'querier')).toThrow('querier.frontend_worker.parallelism: expected a positive integer, got 1.5');
    expect(() => validateQuerierModuleConfig(d, 'querier')).not.toThrow();
  });
});
