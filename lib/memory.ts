// memory(): what the library holds on the GPU right now.
import { getContext } from './state';
import { liveTensorCount } from './tensor';

export interface MemoryInfo {
  /** Tensor handles created and not yet disposed (including ones autograd keeps for backward). */
  tensors: number;
  /** Bytes of pooled buffers currently holding tensor data. */
  bytesInUse: number;
  /** Bytes of free buffers kept in the pool for reuse. */
  bytesPooled: number;
  /** GPU buffers created so far (steady in a loop that does not leak). */
  buffersCreated: number;
}

export function memory(): MemoryInfo {
  const pool = getContext().storage.stats();
  return {
    tensors: liveTensorCount(),
    bytesInUse: pool.bytesInUse,
    bytesPooled: pool.bytesPooled,
    buffersCreated: pool.created,
  };
}
