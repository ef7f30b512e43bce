import { describe, expect, it } from 'vitest';
import { hostname } from 'node:os';
import { defaultMetricsGeneratorLimits } from '@andante/model';
import { defaultKVStoreConfig } from '@andante/ring';
import {
  DEFAULT_SERVICE_GRAPHS_BUCKETS,
  DEFAULT_SPAN_METRICS_BUCKETS,
  defaultGeneratorConfig,
  defaultGeneratorRingConfig,
  effectiveProcessorConfig,
  parseGeneratorConfig,
  parseGeneratorOverrides,
} from './config.js';

describe('generator config', () => {
  it("has Tempo 2.10's defaults", () => {
    const cfg = defaultGeneratorConfig();
    expect(DEFAULT_SPAN_METRICS_BUCKETS.map(String)).toEqual(['0.002', '0.004', '0.008', '0.016', '0.032', '0.064', '0.128', '0.256', '0.512', '1.024', '2.048', '4.096', '8.192', '16.384']);
    expect(DEFAULT_SERVICE_GRAPHS_BUCKETS.map(String)).toEqual(['0.1', '0.2', '0.4', '0.8', '1.6', '3.2', '6.4', '12.8']);
    expect(cfg.registry).toEqual({ collection_interval: '15s', stale_duration: '15m', external_labels: {}, inject_tenant_id_as: '', max_label_name_length: 1024, max_label_value_length: 2048 });
    expect(cfg.processor.service_graphs).toMatchObject({ wait: '10s', max_items: 10_000, workers: 10, peer_attributes: ['peer.service', 'db.name', 'db.system'] });
    expect(cfg.processor.span_metrics.intrinsic_dimensions).toEqual({ service: true, span_name: true, span_kind: true, status_code: true, status_message: false });
    expect(cfg.storage.remote_write_add_org_id_header).toBe(true);
    expect(cfg.metrics_ingestion_time_range_slack).toBe('30s');
  });

  it("metrics_generator.ring has Tempo's defaults (pkg/ring.Config): heartbeat_period 5s, heartbeat_timeout 1m, the hostname as instance_id, no instance_zone", () => {
    const ring = defaultGeneratorRingConfig();
    expect(ring).toMatchObject({ heartbeat_period: '5s', heartbeat_timeout: '1m', instance_id: hostname(), instance_addr: '', instance_port: 0, instance_zone: '' });
    expect(ring.kvstore).toEqual(defaultKVStoreConfig());
  });

  it('parses remote_write entries with auth, headers and queue settings', () => {
    const cfg = parseGeneratorConfig({
      storage: {
        remote_write: [
          { url: 'http://p:9090/api/v1/write', send_exemplars: true, headers: { 'X-A': 'b' }, basic_auth: { username: 'u', password: 'p' }, queue_config: { capacity: 100, max_shards: 2 } },
          { url: 'https://m/api/v1/push', name: 'mimir', authorization: { credentials: 'tok' }, tls_config: { ca_file: '/etc/ca.pem', insecure_skip_verify: false, server_name: 'mimir' } },
        ],
      },
    });
    expect(cfg.storage.remote_write[0]).toMatchObject({ name: 'p:9090', send_exemplars: true, headers: { 'X-A': 'b' }, basic_auth: { username: 'u', password: 'p' } });
    expect(cfg.storage.remote_write[0]!.queue_config).toMatchObject({ capacity: 100, max_shards: 2, max_samples_per_send: 2000 });
    expect(cfg.storage.remote_write[1]).toMatchObject({ name: 'mimir', authorization: { type: 'Bearer', credentials: 'tok' }, send_exemplars: false, tls_config: { ca_file: '/etc/ca.pem', server_name: 'mimir' } });
  });

  it('parses write_relabel_configs with Prometheus defaults, and names the rule at fault', () => {
    const cfg = parseGeneratorConfig({ storage: { remote_write: [{ url: 'http://p:9090/api/v1/write', write_relabel_configs: [{ regex: 'span_name', action: 'labeldrop' }] }] } });
    expect(cfg.storage.remote_write[0]!.write_relabel_configs).toEqual([{ source_labels: [], separator: ';', regex: 'span_name', target_label: '', replacement: '$1', action: 'labeldrop' }]);
    expect(() => parseGeneratorConfig({ storage: { remote_write: [{ url: 'http://p/api/v1/write', write_relabel_configs: [{ action: 'hashmod' }] }] } })).toThrow(
      /metrics_generator\.storage\.remote_write\[0\]\.write_relabel_configs\[0\]\.action: hashmod is not supported/,
    );
  });

  it.each([
    ['unknown key', { processor: { span_metrics: { dimension: ['a'] } } }, 'unknown configuration key metrics_generator.processor.span_metrics.dimension'],
    ['unsorted buckets', { processor: { span_metrics: { histogram_buckets: [1, 0.5] } } }, 'strictly increasing'],
    ['bad intrinsic', { processor: { span_metrics: { intrinsic_dimensions: { span_status: true } } } }, 'unknown configuration key metrics_generator.processor.span_metrics.intrinsic_dimensions.span_status'],
    ['filter without include/exclude', { processor: { span_metrics: { filter_policies: [{}] } } }, 'needs an include or an exclude'],
    ['bad filter match type', { processor: { span_metrics: { filter_policies: [{ include: { match_type: 'exact', attributes: [] } }] } } }, 'expected strict or regex'],
    ['bad filter key', { processor: { span_metrics: { filter_policies: [{ include: { match_type: 'strict', attributes: [{ key: 'http.method', value: 'GET' }] } }] } } }, 'must be an intrinsic'],
    ['bad regex', { processor: { span_metrics: { filter_policies: [{ exclude: { match_type: 'regex', attributes: [{ key: 'name', value: '(' }] } }] } } }, 'invalid regular expression'],
    ['two auths', { storage: { remote_write: [{ url: 'http://x/', basic_auth: { username: 'a' }, authorization: { credentials: 'b' } }] } }, 'at most one of basic_auth and authorization'],
    ['bad tenant label', { registry: { inject_tenant_id_as: 'org-id' } }, 'not a valid Prometheus label name'],
    ['a client cert without its key', { storage: { remote_write: [{ url: 'https://x/', tls_config: { cert_file: '/c.pem' } }] } }, 'tls_config: a client certificate needs key or key_file'],
    ['an unknown tls key', { storage: { remote_write: [{ url: 'https://x/', tls_config: { verify: false } }] } }, 'unknown configuration key metrics_generator.storage.remote_write[0].tls_config.verify'],
  ])('refuses %s', (_name, raw, message) => {
    expect(() => parseGeneratorConfig(raw)).toThrow(message);
  });

  it('overlays tenant overrides on the processor config (Tempo copyWithOverrides)', () => {
    const cfg = parseGeneratorConfig({ processor: { span_metrics: { dimensions: ['a'] }, service_graphs: { dimensions: ['b'] } } });
    const o = parseGeneratorOverrides({ processors: ['span-metrics'], processor: { span_metrics: { dimensions: ['c'], intrinsic_dimensions: { status_message: true } } } });
    const eff = effectiveProcessorConfig(cfg, o);
    expect(eff.span_metrics.dimensions).toEqual(['c']);
    expect(eff.span_metrics.intrinsic_dimensions.status_message).toBe(true);
    expect(eff.span_metrics.intrinsic_dimensions.service).toBe(true);
    expect(eff.service_graphs.dimensions).toEqual(['b']);
    expect(effectiveProcessorConfig(cfg, defaultMetricsGeneratorLimits()).span_metrics.dimensions).toEqual(['a']);
  });

  it('lists the valid processor names when one is unknown', () => {
    expect(() => parseGeneratorOverrides({ processors: ['service-graph'] })).toThrow(
      'metrics_generator.processors: "service-graph" is not a known processor, valid values: [service-graphs span-metrics local-blocks span-metrics-count span-metrics-latency span-metrics-size host-info]',
    );
  });

  it('accepts generate_native_histograms: classic and refuses native and both with the reason', () => {
    expect(parseGeneratorOverrides({ generate_native_histograms: 'classic', processors: ['span-metrics'] }).processors).toEqual(['span-metrics']);
    for (const mode of ['native', 'both']) {
      expect(() => parseGeneratorOverrides({ generate_native_histograms: mode })).toThrow(
        `metrics_generator.generate_native_histograms: "${mode}" is not supported: Andante writes classic histograms only; valid values: [classic]`,
      );
    }
  });
});
