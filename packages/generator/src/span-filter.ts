// Tempo's span filter policies (pkg/spanfilter): a span is kept when, for every policy, it matches
// the include (if any) and does not match the exclude (if any). Within one include/exclude every
// attribute must match. Keys: `kind`, `name`, `status` (intrinsics, compared by their OTLP enum
// names), `span.<attr>`, `resource.<attr>`; `strict` compares typed values, `regex` the string form.

import type { AnyValue, FilterPolicyConfig, KeyValue, PolicyMatchConfig } from '@andante/model';
import type { GenSpan } from './span-view.js';
import { spanKindName, statusCodeName, stringifyAnyValue } from './span-data.js';

type Test = (span: GenSpan, resource: readonly KeyValue[]) => boolean;

function typedEquals(v: AnyValue, want: string | number | boolean): boolean {
  if (typeof want === 'string') return 'stringValue' in v && v.stringValue === want;
  if (typeof want === 'boolean') return 'boolValue' in v && v.boolValue === want;
  if ('intValue' in v) return Number(v.intValue) === want;
  if ('doubleValue' in v) return v.doubleValue === want;
  return false;
}

function compileMatch(m: PolicyMatchConfig): Test {
  const tests: Test[] = m.attributes.map(({ key, value }): Test => {
    const regex = m.match_type === 'regex' ? new RegExp(String(value)) : undefined;
    const textTest = (s: string): boolean => (regex ? regex.test(s) : s === String(value));
    if (key === 'name') return (span) => textTest(span.name);
    if (key === 'kind') return (span) => textTest(spanKindName(span.kind));
    if (key === 'status') return (span) => textTest(statusCodeName(span.status.code));
    const fromResource = key.startsWith('resource.');
    const attr = key.slice(fromResource ? 'resource.'.length : 'span.'.length);
    return (span, resource) => {
      const attrs = fromResource ? resource : span.attributes;
      for (const kv of attrs) {
        if (kv.key !== attr) continue;
        return regex ? regex.test(stringifyAnyValue(kv.value)) : typedEquals(kv.value, value);
      }
      return false;
    };
  });
  return (span, resource) => tests.every((t) => t(span, resource));
}

export class SpanFilter {
  private readonly policies: { include?: Test; exclude?: Test }[];
  constructor(policies: readonly FilterPolicyConfig[]) {
    this.policies = policies.map((p) => ({
      ...(p.include ? { include: compileMatch(p.include) } : {}),
      ...(p.exclude ? { exclude: compileMatch(p.exclude) } : {}),
    }));
  }
  keep(span: GenSpan, resource: readonly KeyValue[]): boolean {
    for (const p of this.policies) {
      if (p.include && !p.include(span, resource)) return false;
      if (p.exclude && p.exclude(span, resource)) return false;
    }
    return true;
  }
}
