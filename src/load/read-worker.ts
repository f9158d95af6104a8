import { parentPort, workerData } from "node:worker_threads";
import { encodeRecordBatch } from "../cache/record-cache.js";
import { describeInputError } from "../types/errors.js";
import type { ModuleRecord } from "../types/module-record.js";
import { readModule, type ReadModuleOptions } from "../module/read-module.js";
import type { PoolRequest, PoolResponse, WireResult } from "./read-pool.js";

/**
 * A read-pool worker: reads, decompresses and parses each module it is sent, once, and posts
 * back the batch's records in one transferred buffer (the record cache's encoding: shared
 * strings and flat arrays, cheaper to decode than JSON and than a structured clone of the
 * records' many small objects) and, per file, the one-line reason it could not be read.
 */
const options = (workerData as { options: ReadModuleOptions }).options;
const port = parentPort!;

port.on("message", async (req: PoolRequest) => {
  const records: (ModuleRecord | undefined)[] = [];
  const errors: (string | undefined)[] = [];
  for (const path of req.paths) {
    try {
      records.push(await readModule(path, options));
      errors.push(undefined);
    } catch (err) {
      records.push(undefined);
      errors.push(describeInputError(path, err));
    }
  }
  // The batch's records as one transferred buffer; any the encoding cannot hold go as JSON.
  const { batch, packed } = encodeRecordBatch(records);
  const results: WireResult[] = records.map((r, k) => (r === undefined ? { error: errors[k]! } : packed.has(k) ? { packed: k } : { json: JSON.stringify(r) }));
  const res: PoolResponse = { id: req.id, results, batch };
  port.postMessage(res, [batch.buffer as ArrayBuffer]); // Buffer.alloc above the pool size: its own ArrayBuffer
});
