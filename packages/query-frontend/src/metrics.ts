// tempo_query_frontend_queries_total{tenant,op,status}: Tempo's per-tenant query count, by
// operation (traces, search, metadata for tag names and values, metrics) and HTTP status code.

import { Counter, type Registry } from 'prom-client';

export type QueryOp = 'traces' | 'search' | 'metadata' | 'metrics';

export type QueryCounter = (tenant: string, op: QueryOp, status: number) => void;

export function createQueryCounter(registry: Registry): QueryCounter {
  const queries = new Counter({
    name: 'tempo_query_frontend_queries_total',
    help: 'Total queries received per tenant.',
    labelNames: ['tenant', 'op', 'status'],
    registers: [registry],
  });
  return (tenant, op, status) => queries.inc({ tenant, op, status: String(status) });
}
