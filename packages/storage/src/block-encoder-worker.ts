// Worker-thread entry of BlockEncoderPool. A job comes as chunks of packed traces in ascending ID
// order (a flush sorts them first; a compaction merges in order) and is encoded chunk by chunk as
// it comes, each chunk but the last acknowledged so the producer sends the next. Object bytes go
// back without copying (transferred ArrayBuffers).

import { parentPort } from 'node:worker_threads';
import { SegmentBlockWriter, unpackTraces, type EncodeJobMessage, type EncodeStreamAck } from './block-encoder-pool.js';

const receiving = new Map<number, SegmentBlockWriter>();

parentPort!.on('message', ({ id, job, packed, last }: EncodeJobMessage) => {
  try {
    let writer = receiving.get(id);
    if (!writer) {
      if (!job) throw new Error(`block encoder: first message of job ${id} carries no job`);
      writer = new SegmentBlockWriter(job);
      receiving.set(id, writer);
    }
    for (const t of unpackTraces(packed)) writer.add(t);
    if (!last) {
      const ack: EncodeStreamAck = { ack: id, encodedBytes: writer.encodedBytes, openBytes: writer.openBytes };
      parentPort!.postMessage(ack);
      return;
    }
    receiving.delete(id);
    const block = writer.finish();
    const transfer = [...new Set(block.objects.map((o) => o.data.buffer as ArrayBuffer))];
    parentPort!.postMessage({ id, block }, transfer);
  } catch (err) {
    receiving.get(id)?.close();
    receiving.delete(id);
    parentPort!.postMessage({ id, error: (err as Error).message });
  }
});
