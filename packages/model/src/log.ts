// Structured JSON logs, one object per line on stderr, as log collectors expect.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

export function createLogger(level: LogLevel = 'info', base: LogFields = {}, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const min = LEVELS[level];
  const emit = (lvl: LogLevel, msg: string, fields?: LogFields): void => {
    if (LEVELS[lvl] < min) return;
    const ts = new Date().toISOString();
    const entry: LogFields = { ts, level: lvl, msg, ...base, ...fields };
    // A field named like one of these must not hide the entry's own (a compaction's `level` did).
    entry['ts'] = ts;
    entry['level'] = lvl;
    entry['msg'] = msg;
    if (entry['err'] instanceof Error) entry['err'] = (entry['err'] as Error).message;
    write(JSON.stringify(entry, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) + '\n');
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (fields) => createLogger(level, { ...base, ...fields }, write),
  };
}

export const silentLogger: Logger = createLogger('error', {}, () => undefined);

/**
 * Logs at most one entry per key every `everyMs`, counting those left out in between
 * (`suppressed_since_last`): a peer that fails every call must not flood the log.
 */
export class RateLimitedLog {
  private readonly last = new Map<string, { at: number; suppressed: number }>();

  constructor(private readonly everyMs = 10_000) {}

  /** Calls `write` with the count left out since the last entry for `key`, or counts this one. */
  log(key: string, write: (suppressedSinceLast: number) => void): void {
    const now = Date.now();
    const last = this.last.get(key);
    if (last && now - last.at < this.everyMs) {
      last.suppressed++;
      return;
    }
    this.last.set(key, { at: now, suppressed: 0 });
    write(last?.suppressed ?? 0);
  }
}
