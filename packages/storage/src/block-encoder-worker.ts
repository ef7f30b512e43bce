// Worker-thread entry of BlockEncoderPool. A job comes as chunks of packed traces: a whole block
// (a flush: traces in any order) is encoded once the last chunk has come; a stream (a compaction:
// traces in ID order) is encoded chunk by chunk as it comes, each chunk acknowledged so the
// producer sends the next. Object bytes go back without copying (transferred ArrayBuffers).

import { parentPort } from 'node:worker_threads';
import {
  SegmentBlockWriter,
  encodeSegmentBlock,
  unpackTraces,
  type EncodeJob,
  type EncodeJobMessage,
  type EncodeStreamAck,
  type SegmentTrace,
} from './block-encoder-pool.js';

type Pending = { job: Omit<EncodeJob, 'traces'>; traces: SegmentTrace[] } | { stream: SegmentBlockWriter };
const receiving = new Map<number, Pending>();

parentPort!.on('message', ({ id, job, stream, packed, last }: EncodeJobMessage) => {
  try {
    let pending = receiving.get(id);
    if (!pending) {
      if (!job) throw new Error(`block encoder: first message of job ${id} carries no job`);
      pending = stream ? { stream: new SegmentBlockWriter(job) } : { job, traces: [] };
      receiving.set(id, pending);
    }
    if ('stream' in pending) {
      for (const t of unpackTraces(packed)) pending.stream.add(t);
      if (!last) {
        const ack: EncodeStreamAck = { ack: id, encodedBytes: pending.stream.encodedBytes, openBytes: pending.stream.openBytes };
        parentPort!.postMessage(ack);
        return;
      }
    } else {
      for (const t of unpackTraces(packed)) pending.traces.push(t);
      if (!last) return;
    }
    receiving.delete(id);
    const block = 'stream' in pending ? pending.stream.finish() : encodeSegmentBlock({ ...pending.job, traces: pending.traces });
    const transfer = [...new Set(block.objects.map((o) => o.data.buffer as ArrayBuffer))];
    parentPort!.postMessage({ id, block }, transfer);
  } catch (err) {
    receiving.delete(id);
    parentPort!.postMessage({ id, error: (err as Error).message });
  }
});
