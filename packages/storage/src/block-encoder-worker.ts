// Worker-thread entry of BlockEncoderPool: receives a job as chunks of packed traces, encodes the
// block once the last has come and hands the object bytes back without copying (transferred
// ArrayBuffers).

import { parentPort } from 'node:worker_threads';
import { encodeSegmentBlock, unpackTraces, type EncodeJob, type EncodeJobMessage, type SegmentTrace } from './block-encoder-pool.js';

const receiving = new Map<number, { job: Omit<EncodeJob, 'traces'>; traces: SegmentTrace[] }>();

parentPort!.on('message', ({ id, job, packed, last }: EncodeJobMessage) => {
  try {
    let pending = receiving.get(id);
    if (!pending) {
      if (!job) throw new Error(`block encoder: first message of job ${id} carries no job`);
      pending = { job, traces: [] };
      receiving.set(id, pending);
    }
    for (const t of unpackTraces(packed)) pending.traces.push(t);
    if (!last) return;
    receiving.delete(id);
    const block = encodeSegmentBlock({ ...pending.job, traces: pending.traces });
    const transfer = [...new Set(block.objects.map((o) => o.data.buffer as ArrayBuffer))];
    parentPort!.postMessage({ id, block }, transfer);
  } catch (err) {
    receiving.delete(id);
    parentPort!.postMessage({ id, error: (err as Error).message });
  }
});
