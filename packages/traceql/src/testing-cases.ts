// Test support for other packages' tests (not built; `@andante/traceql/testing` under vitest):
// the generated dataset with known features and the conformance table's valid queries.

export { generateDataset } from './engine/dataset-cases.js';
export { valid as validQueries } from './conformance-cases.js';
export { generateSpans, spansToTraces, referenceSeries, exactQuantile, refInterval, refIntervals, SERVICES, NAMES } from './metrics/reference.fixture.js';
export type { PlainSpan, RefQuery, RefRange, RefSeries, DatasetOptions } from './metrics/reference.fixture.js';
