import { describeInputError } from "../errors.js";
import type { ModuleRecord } from "./module-record.js";
import { readModule, type ReadModuleOptions } from "./read-module.js";

export interface InputError {
  path: string;
  message: string;
}

export interface ReadManyResult {
  /** Records in input order; unreadable inputs are left out. */
  records: ModuleRecord[];
  errors: InputError[];
}

/** Reads many modules, a few at a time; one unreadable file is reported and the rest still read. */
export async function readModules(paths: readonly string[], options: ReadModuleOptions = {}, concurrency = 8): Promise<ReadManyResult> {
  const slots: (ModuleRecord | InputError)[] = new Array(paths.length);
  let next = 0;
  const work = async () => {
    while (next < paths.length) {
      const i = next++;
      const path = paths[i]!;
      try {
        slots[i] = await readModule(path, options);
      } catch (err) {
        slots[i] = { path, message: describeInputError(path, err) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, work));
  const records: ModuleRecord[] = [];
  const errors: InputError[] = [];
  for (const s of slots) {
    if ("message" in s) errors.push(s);
    else records.push(s);
  }
  return { records, errors };
}
