// The metrics-generator tests' traffic: traces of a known topology through the real OpenTelemetry
// JS SDK (OTLP/HTTP protobuf exporter), one tracer provider per service. Shared by the in-process
// test (metrics-generator.test.ts) and the distributed one (generator-grpc.test.ts), which expect
// the same counts and edges.

import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace as otelTrace, type Context, type Span as OtelSpan } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';

/** Counts failed exports so a failure is never silent. */
export class CheckedExporter implements SpanExporter {
  failures = 0;
  constructor(private readonly inner: SpanExporter) {}
  export(spans: ReadableSpan[], done: (r: { code: ExportResultCode; error?: Error }) => void): void {
    this.inner.export(spans, (r) => {
      if (r.code !== ExportResultCode.SUCCESS) this.failures++;
      done(r);
    });
  }
  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}

/** One tracer provider per service, all exporting to `otlpHttpPort` (as `tenant` when given). */
export function providers(otlpHttpPort: number, services: string[], tenant?: string) {
  const out: Record<string, { provider: BasicTracerProvider; exporter: CheckedExporter }> = {};
  for (const service of services) {
    const exporter = new CheckedExporter(new ProtoExporter({ url: `http://127.0.0.1:${otlpHttpPort}/v1/traces`, ...(tenant ? { headers: { 'X-Scope-OrgID': tenant } } : {}) }));
    out[service] = {
      exporter,
      provider: new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': service }), spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60_000, maxExportBatchSize: 512, maxQueueSize: 4096 })] }),
    };
  }
  return out;
}

export const REQUESTS = 20;
const failing = (i: number): boolean => i % 5 === 0; // 4 of 20

/**
 * web -> checkout -> payments, checkout -> postgres (a database client span), checkout
 * -publish-> shipping (producer/consumer); every fifth charge fails. Payments' server spans take
 * 50 ms, or 300 ms when they fail. Returns the trace IDs.
 */
export async function sendTopology(otlpHttpPort: number): Promise<string[]> {
  const exportStart = performance.now();
  const p = providers(otlpHttpPort, ['web', 'checkout', 'payments', 'shipping']);
  const tracer = (svc: string) => p[svc]!.provider.getTracer('andante-generator-test');
  const child = (parent: OtelSpan): Context => otelTrace.setSpan(ROOT_CONTEXT, parent);
  const traceIds: string[] = [];
  const base = Date.now() - 5_000;
  for (let i = 0; i < REQUESTS; i++) {
    const t0 = base + i * 20;
    const chargeMs = failing(i) ? 300 : 50;
    const root = tracer('web').startSpan('GET /shop', { kind: SpanKind.SERVER, startTime: t0 }, ROOT_CONTEXT);
    const webCall = tracer('web').startSpan('POST /checkout', { kind: SpanKind.CLIENT, startTime: t0 + 1 }, child(root));
    const checkout = tracer('checkout').startSpan('POST /checkout', { kind: SpanKind.SERVER, startTime: t0 + 2 }, child(webCall));
    const charge = tracer('checkout').startSpan('charge', { kind: SpanKind.CLIENT, startTime: t0 + 3 }, child(checkout));
    const pay = tracer('payments').startSpan('charge', { kind: SpanKind.SERVER, startTime: t0 + 4 }, child(charge));
    if (failing(i)) {
      pay.setStatus({ code: SpanStatusCode.ERROR, message: 'card declined' });
      charge.setStatus({ code: SpanStatusCode.ERROR });
    }
    pay.end(t0 + 4 + chargeMs);
    charge.end(t0 + 5 + chargeMs);
    const db = tracer('checkout').startSpan('INSERT orders', { kind: SpanKind.CLIENT, startTime: t0 + 310, attributes: { 'db.system': 'postgresql', 'server.address': 'postgres' } }, child(checkout));
    db.end(t0 + 312);
    const publish = tracer('checkout').startSpan('publish order.created', { kind: SpanKind.PRODUCER, startTime: t0 + 313 }, child(checkout));
    publish.end(t0 + 314);
    const consume = tracer('shipping').startSpan('process order.created', { kind: SpanKind.CONSUMER, startTime: t0 + 320 }, child(publish));
    consume.end(t0 + 330);
    checkout.end(t0 + 340);
    webCall.end(t0 + 341);
    root.end(t0 + 342);
    traceIds.push(root.spanContext().traceId);
  }
  for (const { provider, exporter } of Object.values(p)) {
    await provider.forceFlush();
    await provider.shutdown();
    if (exporter.failures > 0) throw new Error(`${exporter.failures} OTLP exports failed`);
  }
  lastExportMs = performance.now() - exportStart;
  return traceIds;
}
/** How long the last sendTopology took to export everything (SDK to acknowledgement). */
export let lastExportMs = 0;

/** A traces_spanmetrics_calls_total series' key: service|span_name|span_kind|status_code. */
export const callsKey = (m: Record<string, string>): string => `${m['service']}|${m['span_name']}|${m['span_kind']}|${m['status_code']}`;
/** A traces_service_graph_request_total series' key: client->server[connection_type]. */
export const edgeKey = (m: Record<string, string>): string => `${m['client']}->${m['server']}[${m['connection_type'] ?? ''}]`;

/** traces_spanmetrics_calls_total after one sendTopology, by callsKey. */
export const TOPOLOGY_CALLS: Readonly<Record<string, number>> = {
  'web|GET /shop|SPAN_KIND_SERVER|STATUS_CODE_UNSET': 20,
  'web|POST /checkout|SPAN_KIND_CLIENT|STATUS_CODE_UNSET': 20,
  'checkout|POST /checkout|SPAN_KIND_SERVER|STATUS_CODE_UNSET': 20,
  'checkout|charge|SPAN_KIND_CLIENT|STATUS_CODE_UNSET': 16,
  'checkout|charge|SPAN_KIND_CLIENT|STATUS_CODE_ERROR': 4,
  'checkout|INSERT orders|SPAN_KIND_CLIENT|STATUS_CODE_UNSET': 20,
  'checkout|publish order.created|SPAN_KIND_PRODUCER|STATUS_CODE_UNSET': 20,
  'payments|charge|SPAN_KIND_SERVER|STATUS_CODE_UNSET': 16,
  'payments|charge|SPAN_KIND_SERVER|STATUS_CODE_ERROR': 4,
  'shipping|process order.created|SPAN_KIND_CONSUMER|STATUS_CODE_UNSET': 20,
};

/** traces_service_graph_request_total after one sendTopology, by edgeKey: the topology's edges exactly. */
export const TOPOLOGY_EDGES: Readonly<Record<string, number>> = {
  'user->web[virtual_node]': 20,
  'web->checkout[]': 20,
  'checkout->payments[]': 20,
  'checkout->postgres[database]': 20,
  'checkout->shipping[messaging_system]': 20,
};
