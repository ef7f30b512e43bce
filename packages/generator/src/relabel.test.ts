import { describe, expect, it } from 'vitest';
import { GeneratorConfigError } from './config.js';
import { compileRelabel, parseRelabelConfigs } from './relabel.js';

type Labels = [string, string][];
const run = (rules: unknown[], labels: Labels): Labels | null => compileRelabel(parseRelabelConfigs(rules, 'rules'))!(labels);
const base: Labels = [['__name__', 'traces_spanmetrics_calls_total'], ['service', 'checkout'], ['span_name', 'GET /cart'], ['status_code', 'STATUS_CODE_OK']];

describe('write_relabel_configs', () => {
  it('replace with Prometheus defaults (regex (.*) anchored, replacement $1, separator ;), Go ${1} spelling, an empty result deleting the target', () => {
    expect(run([{ source_labels: ['service', 'status_code'], target_label: 'pair' }], base)).toContainEqual(['pair', 'checkout;STATUS_CODE_OK']);
    expect(run([{ source_labels: ['span_name'], regex: '(GET|POST) (.*)', target_label: 'route', replacement: '${2}' }], base)).toContainEqual(['route', '/cart']);
    // Anchored: a partial match does not count.
    expect(run([{ source_labels: ['service'], regex: 'check', target_label: 'x', replacement: 'y' }], base)).not.toContainEqual(['x', 'y']);
    expect(run([{ source_labels: ['nope'], target_label: 'service' }], base)!.find(([k]) => k === 'service')).toBeUndefined();
  });

  it('keep, drop, keepequal, dropequal decide on the joined source values', () => {
    expect(run([{ source_labels: ['service'], regex: 'checkout|cart', action: 'keep' }], base)).not.toBeNull();
    expect(run([{ source_labels: ['service'], regex: 'cart', action: 'keep' }], base)).toBeNull();
    expect(run([{ source_labels: ['__name__'], regex: 'traces_spanmetrics_.*', action: 'drop' }], base)).toBeNull();
    expect(run([{ source_labels: ['service'], target_label: 'service', action: 'keepequal' }], base)).not.toBeNull();
    expect(run([{ source_labels: ['service'], target_label: 'span_name', action: 'keepequal' }], base)).toBeNull();
    expect(run([{ source_labels: ['service'], target_label: 'service', action: 'dropequal' }], base)).toBeNull();
  });

  it('labeldrop, labelkeep and labelmap act on label names; lowercase/uppercase; output sorted by name', () => {
    expect(run([{ regex: 'span_name|status_code', action: 'labeldrop' }], base)).toEqual([['__name__', 'traces_spanmetrics_calls_total'], ['service', 'checkout']]);
    expect(run([{ regex: '__name__|service', action: 'labelkeep' }], base)).toEqual([['__name__', 'traces_spanmetrics_calls_total'], ['service', 'checkout']]);
    expect(run([{ regex: 'span_(.*)', replacement: 'op_$1', action: 'labelmap' }], base)).toContainEqual(['op_name', 'GET /cart']);
    expect(run([{ source_labels: ['status_code'], target_label: 'status', action: 'lowercase' }], base)).toContainEqual(['status', 'status_code_ok']);
    const out = run([{ source_labels: ['service'], target_label: 'a_first' }], base)!;
    expect(out.map(([k]) => k)).toEqual([...out.map(([k]) => k)].sort());
  });

  it('refuses what Prometheus would not load, naming the key; hashmod is refused rather than guessed', () => {
    const bad: [unknown, RegExp][] = [
      [[{ action: 'hashmod', source_labels: ['service'], target_label: 'shard', modulus: 2 }], /rules\[0\]\.action: hashmod is not supported/],
      [[{ action: 'explode' }], /rules\[0\]\.action: unknown action/],
      [[{ source_labels: ['a'], regex: '(' }], /rules\[0\]\.regex/],
      [[{ source_labels: ['a'] }], /rules\[0\]\.target_label: required for action replace/],
      [[{ regex: 'x', action: 'labeldrop', source_labels: ['a'] }], /labeldrop matches label names/],
      [[{ sources: ['a'] }], /rules\[0\]\.sources: unknown relabel key/],
      [{ a: 1 }, /rules: expected a list/],
    ];
    for (const [rules, message] of bad) expect(() => parseRelabelConfigs(rules, 'rules'), JSON.stringify(rules)).toThrow(message);
    expect(() => parseRelabelConfigs([{ action: 'hashmod' }], 'rules')).toThrow(GeneratorConfigError);
    expect(compileRelabel([])).toBeNull();
  });
});
