// Test fixtures for other writers' blocks (`@andante/storage/testing`, not exported from index.ts).

/** A Tempo 2.x vParquet4 meta.json (fields of tempodb/backend/v1/v1.proto, shared/reference/tempo-api.md 4.2). */
export function tempoVParquet4Meta(tenantId: string, blockId: string): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      format: 'vParquet4',
      blockID: blockId,
      tenantID: tenantId,
      startTime: '2026-12-01T10:00:00Z',
      endTime: '2026-12-01T10:05:00Z',
      totalObjects: 120,
      size: 482_113,
      compactionLevel: 0,
      encoding: 'none',
      indexPageSize: 0,
      totalRecords: 1,
      dataEncoding: '',
      bloomShards: 1,
      footerSize: 20_480,
      dedicatedColumns: [{ s: 'resource', n: 'k8s.namespace.name', t: 'string' }],
      replicationFactor: 1,
    }),
  );
}

/** A meta.json cut short, as a writer without atomic writes leaves it when killed. */
export const TRUNCATED_META: Uint8Array = new TextEncoder().encode('{"format":"vAndante2","blockID":"');
