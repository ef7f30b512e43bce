// Prometheus relabelling for `storage.remote_write[].write_relabel_configs`: each rule rewrites a
// series' labels, or drops the series, before it is queued for that endpoint. The keys, defaults and
// actions are Prometheus's (`source_labels`, `separator` ";", `regex` "(.*)" anchored at both ends,
// `target_label`, `replacement` "$1", `action` replace); `hashmod` is refused rather than guessed.

import { GeneratorConfigError } from './config.js';

export type RelabelAction = 'replace' | 'keep' | 'drop' | 'keepequal' | 'dropequal' | 'labelmap' | 'labeldrop' | 'labelkeep' | 'lowercase' | 'uppercase';
const ACTIONS: ReadonlySet<string> = new Set<RelabelAction>(['replace', 'keep', 'drop', 'keepequal', 'dropequal', 'labelmap', 'labeldrop', 'labelkeep', 'lowercase', 'uppercase']);
const KEYS = ['source_labels', 'separator', 'regex', 'modulus', 'target_label', 'replacement', 'action'];

export interface RelabelConfig {
  source_labels: string[];
  separator: string;
  regex: string;
  target_label: string;
  replacement: string;
  action: RelabelAction;
}

type Labels = [string, string][];
/** Relabels one series' labels; null drops the series. */
export type Relabeler = (labels: Labels) => Labels | null;

export function parseRelabelConfigs(raw: unknown, path: string): RelabelConfig[] {
  if (raw === null || raw === undefined) return [];
  if (!Array.isArray(raw)) throw new GeneratorConfigError(`${path}: expected a list of relabel rules`);
  return raw.map((r, i) => parseRule(r, `${path}[${i}]`));
}

function parseRule(raw: unknown, path: string): RelabelConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new GeneratorConfigError(`${path}: expected a mapping`);
  const t = raw as Record<string, unknown>;
  for (const k of Object.keys(t)) if (!KEYS.includes(k)) throw new GeneratorConfigError(`${path}.${k}: unknown relabel key (Prometheus's are ${KEYS.join(', ')})`);
  const text = (k: string, dflt: string): string => {
    const v = t[k];
    if (v === undefined || v === null) return dflt;
    if (typeof v !== 'string') throw new GeneratorConfigError(`${path}.${k}: expected a string`);
    return v;
  };
  const action = text('action', 'replace').toLowerCase();
  if (action === 'hashmod') throw new GeneratorConfigError(`${path}.action: hashmod is not supported (shard with separate remote_write entries and keep/drop rules instead)`);
  if (!ACTIONS.has(action)) throw new GeneratorConfigError(`${path}.action: unknown action ${JSON.stringify(action)} (one of ${[...ACTIONS].join(', ')})`);
  const sources = t['source_labels'] ?? [];
  if (!Array.isArray(sources) || sources.some((s) => typeof s !== 'string')) throw new GeneratorConfigError(`${path}.source_labels: expected a list of label names`);
  const cfg: RelabelConfig = {
    source_labels: sources as string[],
    separator: text('separator', ';'),
    regex: text('regex', '(.*)'),
    target_label: text('target_label', ''),
    replacement: text('replacement', '$1'),
    action: action as RelabelAction,
  };
  try {
    new RegExp(`^(?:${cfg.regex})$`);
  } catch (err) {
    throw new GeneratorConfigError(`${path}.regex: ${(err as Error).message}`);
  }
  const needsTarget = cfg.action === 'replace' || cfg.action === 'lowercase' || cfg.action === 'uppercase' || cfg.action === 'keepequal' || cfg.action === 'dropequal';
  if (needsTarget && !cfg.target_label) throw new GeneratorConfigError(`${path}.target_label: required for action ${cfg.action}`);
  if ((cfg.action === 'labeldrop' || cfg.action === 'labelkeep') && (cfg.source_labels.length > 0 || cfg.target_label)) {
    throw new GeneratorConfigError(`${path}: ${cfg.action} matches label names with regex only (no source_labels or target_label)`);
  }
  return cfg;
}

/** Go's `${1}` / `${name}` become JavaScript's `$1` / `$<name>`. */
function jsReplacement(s: string): string {
  return s.replace(/\$\{(\w+)\}/g, (_m, g: string) => (/^\d+$/.test(g) ? `$${g}` : `$<${g}>`));
}

/** The rules as one function, or null when there are none. */
export function compileRelabel(configs: readonly RelabelConfig[]): Relabeler | null {
  if (configs.length === 0) return null;
  const rules = configs.map((c) => ({ ...c, re: new RegExp(`^(?:${c.regex})$`), replacement: jsReplacement(c.replacement), target: jsReplacement(c.target_label) }));
  return (input) => {
    const labels = new Map(input);
    for (const r of rules) {
      const value = r.source_labels.map((n) => labels.get(n) ?? '').join(r.separator);
      switch (r.action) {
        case 'keep':
          if (!r.re.test(value)) return null;
          break;
        case 'drop':
          if (r.re.test(value)) return null;
          break;
        case 'keepequal':
          if (value !== (labels.get(r.target_label) ?? '')) return null;
          break;
        case 'dropequal':
          if (value === (labels.get(r.target_label) ?? '')) return null;
          break;
        case 'replace': {
          if (!r.re.test(value)) break;
          const target = value.replace(r.re, r.target);
          const result = value.replace(r.re, r.replacement);
          if (!target) break;
          if (result) labels.set(target, result);
          else labels.delete(target);
          break;
        }
        case 'lowercase':
          labels.set(r.target_label, value.toLowerCase());
          break;
        case 'uppercase':
          labels.set(r.target_label, value.toUpperCase());
          break;
        case 'labelmap':
          for (const [name, v] of [...labels]) if (r.re.test(name)) labels.set(name.replace(r.re, r.replacement), v);
          break;
        case 'labeldrop':
          for (const name of [...labels.keys()]) if (r.re.test(name)) labels.delete(name);
          break;
        case 'labelkeep':
          for (const name of [...labels.keys()]) if (!r.re.test(name)) labels.delete(name);
          break;
      }
    }
    if (labels.size === 0) return null;
    // Prometheus wants a series' labels sorted by name.
    return [...labels].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  };
}
