// Tempo's QueryRangeResponse and QueryInstantResponse as JSON, the answers of /api/metrics/query_range
// and /api/metrics/query.

import { attributesJson, doubleJson, jsonString, searchMetricsJson, type InstantSeries, type MetricsExemplar, type MetricsSample, type MetricsSeries, type SearchMetrics } from '@andante/model';

/** Tempo's QueryRangeResponse / QueryInstantResponse in the strict jsonpb style of search (zero values left out). */
export function queryRangeResponseJson(series: readonly MetricsSeries[], metrics: SearchMetrics, partial?: { message: string }): string {
  const s = series.map((x) => {
    const f: string[] = [];
    if (x.labels.length) f.push(`"labels":${attributesJson(x.labels)}`);
    if (x.samples.length) f.push(`"samples":[${x.samples.map(sampleJson).join(',')}]`);
    if (x.exemplars.length) f.push(`"exemplars":[${x.exemplars.map(exemplarJson).join(',')}]`);
    return `{${f.join(',')}}`;
  });
  return envelope(s.length ? `"series":[${s.join(',')}]` : null, metrics, partial);
}

export function queryInstantResponseJson(series: readonly InstantSeries[], metrics: SearchMetrics, partial?: { message: string }): string {
  const s = series.map((x) => {
    const f: string[] = [];
    if (x.labels.length) f.push(`"labels":${attributesJson(x.labels)}`);
    if (x.value !== 0 || Object.is(x.value, -0)) f.push(`"value":${doubleJson(x.value)}`);
    return `{${f.join(',')}}`;
  });
  return envelope(s.length ? `"series":[${s.join(',')}]` : null, metrics, partial);
}

function envelope(series: string | null, metrics: SearchMetrics, partial?: { message: string }): string {
  const f: string[] = [];
  if (series) f.push(series);
  f.push(`"metrics":${searchMetricsJson(metrics)}`);
  if (partial) f.push(`"status":"PARTIAL"`, `"message":${jsonString(partial.message)}`);
  return `{${f.join(',')}}`;
}

function sampleJson(s: MetricsSample): string {
  const f: string[] = [];
  if (s.timestampMs !== 0n) f.push(`"timestampMs":"${s.timestampMs}"`);
  if (s.value !== 0 || Object.is(s.value, -0)) f.push(`"value":${doubleJson(s.value)}`);
  return `{${f.join(',')}}`;
}

function exemplarJson(e: MetricsExemplar): string {
  const f: string[] = [];
  if (e.labels.length) f.push(`"labels":${attributesJson(e.labels)}`);
  if (e.value !== 0 || Object.is(e.value, -0)) f.push(`"value":${doubleJson(e.value)}`);
  if (e.timestampMs !== 0n) f.push(`"timestampMs":"${e.timestampMs}"`);
  return `{${f.join(',')}}`;
}
