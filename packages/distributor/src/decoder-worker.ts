// Worker-thread entry of ExportDecoderPool: splits one export per message and hands the segments
// back in one transferred buffer.

import { parentPort } from 'node:worker_threads';
import { InvalidArgumentError } from '@andante/model';
import { packSegments, splitExportRequest } from './split-export.js';

parentPort!.on('message', ({ id, body }: { id: number; body: Uint8Array }) => {
  try {
    const { spanCount, segments, invalid } = splitExportRequest(body);
    const packed = packSegments(segments);
    parentPort!.postMessage({ id, spanCount, invalid, packed }, [packed]);
  } catch (err) {
    parentPort!.postMessage({ id, error: (err as Error).message, invalidArgument: err instanceof InvalidArgumentError });
  }
});
