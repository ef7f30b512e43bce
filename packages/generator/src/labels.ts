// Prometheus label names from OTel attribute names, and the label sets the processors build.

const INVALID_LABEL_CHARS = /[^a-zA-Z0-9_]/g;

/**
 * Prometheus's strutil.SanitizeLabelName (every character outside [a-zA-Z0-9_] becomes `_`),
 * plus a `_` before a leading digit, which Prometheus would refuse as a label name.
 */
export function sanitizeLabelName(name: string): string {
  const s = name.replace(INVALID_LABEL_CHARS, '_');
  if (s === '') return '_';
  return s.charCodeAt(0) >= 48 && s.charCodeAt(0) <= 57 ? `_${s}` : s;
}

/** Tempo's SanitizeLabelNameWithCollisions: a dimension that sanitizes to a reserved label gets `__` in front. */
export function sanitizeWithCollisions(name: string, reserved: ReadonlySet<string>): string {
  const s = sanitizeLabelName(name);
  return reserved.has(s) ? `__${s}` : s;
}

/** A label set under construction: names and values in insertion order. */
export class LabelBuilder {
  readonly names: string[] = [];
  readonly values: string[] = [];
  private cachedKey: string | undefined;
  add(name: string, value: string): this {
    this.names.push(name);
    this.values.push(value);
    this.cachedKey = undefined;
    return this;
  }
  /** The series key; computed once however many metrics the same labels update (calls, latency, size). */
  key(): string {
    return (this.cachedKey ??= this.names.join('\xfe') + '\xff' + this.values.join('\xfe'));
  }
}
