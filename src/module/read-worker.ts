import { parentPort, workerData } from "node:worker_threads";
import { describeInputError } from "../errors.js";
import type { ReadModuleOptions } from "./read-module.js";
import { readModuleOnce } from "./read-once.js";
import type { PoolRequest, PoolResponse, PoolResult } from "./read-pool.js";

/**
 * A read-pool worker: reads, decompresses and parses each module it is sent, once, and posts
 * back its record as JSON text (cheaper to pass and parse than a structured clone of the
 * record's many small objects) or the one-line reason it could not be read.
 */
const options = (workerData as { options: ReadModuleOptions }).options;
const port = parentPort!;

port.on("message", async (req: PoolRequest) => {
  const results: PoolResult[] = [];
  for (const path of req.paths) {
    try {
      results.push({ json: JSON.stringify(await readModuleOnce(path, options)) });
    } catch (err) {
      results.push({ error: describeInputError(path, err) });
    }
  }
  const res: PoolResponse = { id: req.id, results };
  port.postMessage(res);
});
