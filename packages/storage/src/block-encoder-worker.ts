// Worker-thread entry of BlockEncoderPool: encodes one block per message and hands the object
// bytes back without copying (transferred ArrayBuffers).

import { parentPort } from 'node:worker_threads';
import { encodeSegmentBlock, unpackTraces, type EncodeJob } from './block-encoder-pool.js';

parentPort!.on('message', ({ id, job, packed }: { id: number; job: EncodeJob; packed: ArrayBuffer }) => {
  try {
    const block = encodeSegmentBlock({ ...job, traces: unpackTraces(packed) });
    const transfer = [...new Set(block.objects.map((o) => o.data.buffer as ArrayBuffer))];
    parentPort!.postMessage({ id, block }, transfer);
  } catch (err) {
    parentPort!.postMessage({ id, error: (err as Error).message });
  }
});
