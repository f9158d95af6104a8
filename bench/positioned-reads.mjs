#!/usr/bin/env node
// Plain .ko: positioned reads of the ELF header, section table and the few sections used
// (one read per structure), the same in aligned blocks read once (what kabi's readModules does,
// src/elf/block-source.ts), and reading each whole file and parsing it from memory.
// Usage: node bench/positioned-reads.mjs DIR [ROUNDS]   (after npm run build)
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { BufferSource } from "../dist/src/elf/byte-source.js";
import { FileSource } from "../dist/src/elf/file-source.js";
import { ElfFile } from "../dist/src/elf/elf-file.js";
import { buildRecord } from "../dist/src/module/read-module.js";
import { BlockFileSource } from "../dist/src/elf/block-source.js";

const dir = process.argv[2];
const rounds = Number(process.argv[3] ?? 3);
const files = [];
const walk = (d) => {
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) walk(p);
    else if (e.name.endsWith(".ko")) files.push(p);
  }
};
walk(dir);

// Counts what is read: wraps FileSource.read.
let bytesPositioned = 0;
const origRead = FileSource.prototype.read;
FileSource.prototype.read = function (offset, length) {
  bytesPositioned += length;
  return origRead.call(this, offset, length);
};

function positioned() {
  for (const f of files) {
    const src = FileSource.open(f);
    try {
      buildRecord(f, { elf: ElfFile.parse(f, src), compression: "none", source: src });
    } finally {
      src.close();
    }
  }
}
let bytesBlocks = 0;
const blockSize = Number(process.env.BLOCK_SIZE ?? 65536);
function blocks() {
  for (const f of files) {
    const src = BlockFileSource.open(f, blockSize);
    try {
      buildRecord(f, { elf: ElfFile.parse(f, src), compression: "none", source: src });
    } finally {
      bytesBlocks += src.bytesRead;
      src.close();
    }
  }
}
let bytesWhole = 0;
function whole() {
  for (const f of files) {
    const buf = readFileSync(f);
    bytesWhole += buf.length;
    const src = new BufferSource(buf);
    buildRecord(f, { elf: ElfFile.parse(f, src), compression: "none", source: src });
  }
}
const time = (fn) => {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const c = process.cpuUsage(c0);
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
};
positioned();
blocks();
whole(); // warm the page cache and the JIT for all three
const res = { positioned: [], blocks: [], whole: [] };
for (let r = 0; r < rounds; r++) {
  bytesPositioned = 0;
  bytesBlocks = 0;
  bytesWhole = 0;
  res.positioned.push(time(positioned));
  res.blocks.push(time(blocks));
  res.whole.push(time(whole));
}
const med = (xs, k) => xs.map((x) => x[k]).sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
console.log(`${files.length} plain modules, ${rounds} rounds (page cache warm), median:`);
console.log(`  positioned reads: ${med(res.positioned, "wall").toFixed(0)} ms wall, ${med(res.positioned, "cpu").toFixed(0)} ms CPU, ${(bytesPositioned / 1e6).toFixed(1)} MB read`);
console.log(`  ${blockSize / 1024} KiB blocks:    ${med(res.blocks, "wall").toFixed(0)} ms wall, ${med(res.blocks, "cpu").toFixed(0)} ms CPU, ${(bytesBlocks / 1e6).toFixed(1)} MB read`);
console.log(`  whole files:      ${med(res.whole, "wall").toFixed(0)} ms wall, ${med(res.whole, "cpu").toFixed(0)} ms CPU, ${(bytesWhole / 1e6).toFixed(1)} MB read`);
