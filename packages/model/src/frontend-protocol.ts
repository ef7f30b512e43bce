// The query-frontend <-> querier stream (`/andante.Frontend/Process`, Tempo's pull model): a querier
// dials each frontend, says who it is and how many jobs it can take, and the frontend sends jobs
// from its per-tenant fair queue; the querier sends each job's answer back on the same stream.
//
//   querier -> frontend: hello { querierId }, ready { n } (n more jobs), result { id, ok, value | error },
//                        stopping (no more jobs: it finishes and answers those it holds, then closes)
//   frontend -> querier: job { id, method, args }, cancel { id } (its caller gave up: stop it; the
//                        querier still answers it, with an error, and says ready as usual)
//
// Messages are V8's structured-clone serialization (node:v8), the format block jobs already cross
// worker threads in: QuerierJobs' arguments and answers are plain data (bigints, typed arrays,
// Maps), both ends are Andante processes, and a schema per job type would copy every type of
// @andante/model into a .proto. Node reads what older Node versions wrote, so a rolling upgrade
// works oldest-frontend-first. Everything decoded is checked for shape before use: a malformed
// message fails its stream (INVALID_ARGUMENT), never the process.

import { deserialize, serialize } from 'node:v8';
import { AndanteError, GrpcCode, InvalidArgumentError, NotFoundError, UnavailableError, type GrpcCodeValue } from './errors.js';
import { QUERIER_JOB_METHODS, type QuerierJobMethod } from './query-jobs.js';

export const FRONTEND_PROCESS_METHOD = '/andante.Frontend/Process';

/** A job's failure as it crosses the wire: enough to rebuild the typed error the frontend acts on. */
export interface WireError {
  code: string;
  message: string;
  httpStatus: number;
  grpcCode: number;
}

export type QuerierToFrontend =
  | { type: 'hello'; querierId: string }
  | { type: 'ready'; n: number }
  | { type: 'stopping' }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: WireError };

export type FrontendToQuerier = { type: 'job'; id: number; method: QuerierJobMethod; args: unknown[] } | { type: 'cancel'; id: number };

export function encodeFrontendMessage(m: QuerierToFrontend | FrontendToQuerier): Buffer {
  return serialize(m);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function decode(bytes: Uint8Array): Record<string, unknown> {
  let m: unknown;
  try {
    m = deserialize(bytes);
  } catch (err) {
    throw new InvalidArgumentError(`malformed frontend stream message: ${(err as Error).message}`);
  }
  if (!isObject(m) || typeof m.type !== 'string') throw new InvalidArgumentError('malformed frontend stream message: no type');
  return m;
}

export function decodeQuerierMessage(bytes: Uint8Array): QuerierToFrontend {
  const m = decode(bytes);
  switch (m.type) {
    case 'hello':
      if (typeof m.querierId === 'string' && m.querierId.length <= 256) return { type: 'hello', querierId: m.querierId };
      break;
    case 'ready':
      if (isCount(m.n) && m.n <= 100_000) return { type: 'ready', n: m.n };
      break;
    case 'stopping':
      return { type: 'stopping' };
    case 'result':
      if (!isCount(m.id)) break;
      if (m.ok === true) return { type: 'result', id: m.id, ok: true, value: m.value };
      if (m.ok === false && isObject(m.error) && typeof m.error.code === 'string' && typeof m.error.message === 'string') {
        const e = m.error;
        return { type: 'result', id: m.id, ok: false, error: { code: e.code as string, message: e.message as string, httpStatus: Number(e.httpStatus) || 500, grpcCode: Number(e.grpcCode) || GrpcCode.INTERNAL } };
      }
      break;
  }
  throw new InvalidArgumentError(`malformed frontend stream message of type ${JSON.stringify(m.type)}`);
}

export function decodeFrontendMessage(bytes: Uint8Array): FrontendToQuerier {
  const m = decode(bytes);
  if (m.type === 'job' && isCount(m.id) && (QUERIER_JOB_METHODS as readonly unknown[]).includes(m.method) && Array.isArray(m.args)) {
    return { type: 'job', id: m.id, method: m.method as QuerierJobMethod, args: m.args };
  }
  if (m.type === 'cancel' && isCount(m.id)) return { type: 'cancel', id: m.id };
  throw new InvalidArgumentError(`malformed frontend stream message of type ${JSON.stringify(m.type)}`);
}

/** A job's failure for the wire: typed errors keep their code and statuses; anything else is internal. */
export function toWireError(err: unknown): WireError {
  if (err instanceof AndanteError) return { code: err.code, message: err.message, httpStatus: err.httpStatus, grpcCode: err.grpcCode };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err), httpStatus: 500, grpcCode: GrpcCode.INTERNAL };
}

/** A querier's refusal, rebuilt: NotFoundError and 4xx keep their meaning (a block compacted away holds nothing; a bad query is 400). */
export class RemoteJobError extends AndanteError {
  override readonly name = 'RemoteJobError';
  constructor(
    readonly code: string,
    message: string,
    readonly httpStatus: number,
    readonly grpcCode: GrpcCodeValue,
  ) {
    super(message);
  }
}

export function fromWireError(e: WireError): AndanteError {
  if (e.code === 'NOT_FOUND') return new NotFoundError(e.message);
  if (e.code === 'INVALID_ARGUMENT') return new InvalidArgumentError(e.message);
  if (e.code === 'UNAVAILABLE') return new UnavailableError(e.message);
  return new RemoteJobError(e.code, e.message, e.httpStatus, e.grpcCode as GrpcCodeValue);
}
