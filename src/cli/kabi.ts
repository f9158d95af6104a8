#!/usr/bin/env node
import { processIO } from "./io.js";
import { main } from "./main.js";
import { crashText } from "./report-error.js";

main(process.argv.slice(2), processIO()).then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(crashText("kabi", err));
    process.exitCode = 2;
  },
);
