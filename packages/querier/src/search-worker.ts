// Worker-thread entry of BlockSearchPool: searches one block per message. Bytes are asked of the
// main thread (its Backend); the query is compiled here, once per distinct query text.

import { parentPort, workerData } from 'node:worker_threads';
import type { Backend, KeyPath } from '@andante/backend';
import { CancelledError, type CompiledSearch, type MetricsEngine, type SearchCompiler } from '@andante/model';
import { metricsBlockJob } from './metrics-block-job.js';
import { metricsReplicatedJob } from './metrics-replicated-job.js';
import { BackendBlock, type BlockMeta } from '@andante/storage';
import { blockTags } from './block-tags-job.js';
import { deserializeError, searchBlockWith, serializeError, type CompilerModule, type FromWorker, type ToWorker } from './search-pool.js';

const port = parentPort!;
const { url, exportName } = workerData as CompilerModule;
const language = await import(url);
const compile = language[exportName] as SearchCompiler;
// The metrics side of the same language module (absent in an old build: metrics jobs then fail).
const metricsEngine = language.metricsEngine as MetricsEngine | undefined;

const reads = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
let nextRead = 0;

function ask(keypath: KeyPath, name: string, offset?: number, length?: number): Promise<Uint8Array> {
  const id = nextRead++;
  return new Promise((resolve, reject) => {
    reads.set(id, { resolve, reject });
    port.postMessage({ kind: 'read', id, keypath: [...keypath], name, offset, length } satisfies FromWorker);
  });
}

const unsupported = (op: string) => (): Promise<never> => Promise.reject(new Error(`${op} is not available to a search worker`));

/** Reads only, through the main thread. */
const backend: Backend = {
  read: (keypath, name) => ask(keypath, name),
  readRange: (keypath, name, offset, length) => ask(keypath, name, offset, length),
  size: unsupported('size'),
  list: unsupported('list'),
  scanKeys: unsupported('scanKeys'),
  write: unsupported('write'),
  delete: unsupported('delete'),
  close: () => Promise.resolve(),
};

// A query is usually searched over many blocks in a row: keep the last few compiled.
const compiled = new Map<string, CompiledSearch>();
function compiledQuery(text: string): CompiledSearch {
  let q = compiled.get(text);
  if (!q) {
    q = compile(text);
    compiled.set(text, q);
    if (compiled.size > 16) compiled.delete(compiled.keys().next().value!);
  }
  return q;
}

// Blocks are immutable: keep the last few opened (footer, index, bloom shards read once).
const blocks = new Map<string, BackendBlock>();
function openBlock(meta: BlockMeta): BackendBlock {
  const key = `${meta.tenantID}/${meta.blockID}`;
  let block = blocks.get(key);
  if (!block) {
    block = new BackendBlock(backend, meta);
    blocks.set(key, block);
    if (blocks.size > 64) blocks.delete(blocks.keys().next().value!);
  }
  return block;
}

/** Jobs running here, to stop when the pool cancels them. */
const running = new Map<number, AbortController>();

port.on('message', (msg: ToWorker) => {
  if (msg.kind === 'cancel') {
    running.get(msg.id)?.abort(new CancelledError('block job cancelled: nobody waits for its answer'));
    return;
  }
  if (msg.kind === 'read') {
    const r = reads.get(msg.id);
    reads.delete(msg.id);
    if (msg.data) r?.resolve(msg.data);
    else r?.reject(deserializeError(msg.error ?? { name: 'Error', message: 'read failed' }));
    return;
  }
  const { id } = msg;
  const controller = new AbortController();
  running.set(id, controller);
  const signal = controller.signal;
  let work: Promise<unknown>;
  const noEngine = (): Promise<never> => Promise.reject(new Error('the language module has no metricsEngine'));
  if (msg.kind === 'search') work = searchBlockWith(openBlock(msg.meta), msg.req, compiledQuery(msg.req.query), signal);
  else if (msg.kind === 'tags') work = blockTags(openBlock(msg.meta), compile, msg.req, msg.job);
  else if (msg.kind === 'metrics') work = metricsEngine ? metricsBlockJob(openBlock(msg.meta), msg.req, metricsEngine, signal) : noEngine();
  else work = metricsEngine ? metricsReplicatedJob(msg.metas.map(openBlock), msg.req, msg.shard, metricsEngine, signal) : noEngine();
  work.finally(() => running.delete(id)).then(
    (result) => port.postMessage({ kind: 'done', id, result: result as Extract<FromWorker, { kind: 'done' }>['result'] } satisfies FromWorker),
    (err: unknown) => port.postMessage({ kind: 'done', id, error: serializeError(err) } satisfies FromWorker),
  );
});
