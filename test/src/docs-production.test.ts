// docs/production.md and the files it hands to the platform team, held to the code:
// - every command block says which test runs it or why it cannot run here, and the tests it names exist;
// - deploy/aws/s3-policy.json grants exactly the IAM actions the S3 calls of packages/backend need, on
//   the seed's bucket (a new S3 call that the policy does not cover fails here);
// - deploy/grafana/datasources.yaml points the Tempo data source at the query-frontend the chart's
//   NOTES print for the seed's values, its Prometheus at the one the generator remote-writes to, and
//   uses the generator's exemplar label and `service` label.
// (The metric names the guide mentions are checked against what Andante emits in deploy-rules.test.ts.)

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TenantRegistry } from '@andante/generator';
import { ROOT, SEED, YAML, findHelm, helmNotes, type Obj } from './helm.js';

const GUIDE = readFileSync(join(ROOT, 'docs/production.md'), 'utf8');
const seed = YAML.parse(readFileSync(SEED, 'utf8')) as Obj;

/** The ```sh blocks of the guide. */
const shellBlocks = (): string[] => [...GUIDE.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);

describe('docs/production.md', () => {
  it('every command block starts with "# tested: <test>" or "# not runnable here: <why>", and the tests it names exist', () => {
    const blocks = shellBlocks();
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    let tested = 0;
    for (const b of blocks) {
      const first = b.split('\n')[0]!;
      expect(first, b).toMatch(/^# (tested: test\/src\/\S+\.test\.ts|not runnable here: \S)/);
      if (first.startsWith('# tested:')) tested++;
      for (const [path] of first.matchAll(/test\/src\/[\w.-]+\.test\.ts/g)) expect(existsSync(join(ROOT, path)), `${path} named in: ${first}`).toBe(true);
    }
    expect(tested).toBeGreaterThanOrEqual(4);
  });
});

// IAM actions each S3 API call of the backend needs (AWS's "Actions defined by Amazon S3").
const IAM_ACTION: Record<string, string> = {
  GetObject: 's3:GetObject',
  HeadObject: 's3:GetObject',
  PutObject: 's3:PutObject',
  CreateMultipartUpload: 's3:PutObject',
  UploadPart: 's3:PutObject',
  CompleteMultipartUpload: 's3:PutObject',
  AbortMultipartUpload: 's3:AbortMultipartUpload',
  DeleteObject: 's3:DeleteObject',
  ListObjects: 's3:ListBucket',
  ListObjectsV2: 's3:ListBucket',
  HeadBucket: 's3:ListBucket',
};
const BUCKET_ACTIONS = new Set(['s3:ListBucket']);

describe('deploy/aws/s3-policy.json', () => {
  const policy = JSON.parse(readFileSync(join(ROOT, 'deploy/aws/s3-policy.json'), 'utf8')) as { Statement: { Effect: string; Action: string[]; Resource: string[] }[] };
  const bucket = seed['storage']['trace']['s3']['bucket'] as string;

  it('grants exactly the actions of the S3 calls the backend makes, on the seed bucket, bucket actions on the bucket and object actions on its objects', () => {
    const source = readFileSync(join(ROOT, 'packages/backend/src/s3-backend.ts'), 'utf8');
    const calls = new Set([...source.matchAll(/new (\w+)Command\(/g)].map((m) => m[1]!));
    expect(calls.size).toBeGreaterThan(5);
    for (const c of calls) expect(IAM_ACTION[c], `the backend calls ${c}: add its IAM action to this table and to the policy`).toBeDefined();
    const needed = new Set([...calls].map((c) => IAM_ACTION[c]!));
    const granted = new Set<string>();
    for (const s of policy.Statement) {
      expect(s.Effect).toBe('Allow');
      for (const a of s.Action) {
        granted.add(a);
        const resources = BUCKET_ACTIONS.has(a) ? [`arn:aws:s3:::${bucket}`] : [`arn:aws:s3:::${bucket}/*`];
        expect(s.Resource, a).toEqual(resources);
      }
    }
    expect([...granted].sort()).toEqual([...needed].sort());
  });
});

describe('deploy/grafana/datasources.yaml', () => {
  const file = YAML.parse(readFileSync(join(ROOT, 'deploy/grafana/datasources.yaml'), 'utf8')) as { datasources: Obj[] };
  const tempo = file.datasources.find((d) => d['type'] === 'tempo')!;
  const prom = file.datasources.find((d) => d['type'] === 'prometheus')!;
  let notes = '';
  beforeAll(async () => {
    notes = await helmNotes(await findHelm(), ['--values', SEED]);
  }, 120_000);

  it('the Tempo data source is the query-frontend URL the NOTES print for the seed values; Prometheus is where the generator writes', () => {
    expect(tempo && prom).toBeTruthy();
    const printed = /Grafana's Tempo data source URL:\s*(\S+)/.exec(notes)?.[1];
    expect(printed).toBeDefined();
    expect(tempo['url']).toBe(printed);
    const writeUrl = seed['metricsGenerator']['config']['storage']['remote_write'][0]['url'] as string;
    expect(`${prom['url']}/api/v1/write`).toBe(writeUrl);
  });

  it('service map, traces-to-metrics and exemplars link the two by uid, with the generator’s label names', () => {
    const j = tempo['jsonData'] as Obj;
    expect(j['serviceMap']['datasourceUid']).toBe(prom['uid']);
    expect(j['tracesToMetrics']['datasourceUid']).toBe(prom['uid']);
    const dest = (prom['jsonData']['exemplarTraceIdDestinations'] as Obj[])[0]!;
    expect(dest['datasourceUid']).toBe(tempo['uid']);
    const registry = new TenantRegistry({ tenant: 't', staleDurationMs: 1, externalLabels: {}, injectTenantIdAs: '', maxLabelNameLength: 1024, maxLabelValueLength: 2048, maxActiveSeries: () => 0 });
    expect(dest['name']).toBe(registry.traceIdLabelName);
    // service.name -> `service`, the span-metrics label; every query reads a series the generator writes.
    expect(j['tracesToMetrics']['tags']).toEqual([{ key: 'service.name', value: 'service' }]);
    for (const q of j['tracesToMetrics']['queries'] as Obj[]) expect(q['query'], q['name']).toMatch(/traces_spanmetrics_(calls_total|latency_bucket)\{\$__tags/);
  });
});
