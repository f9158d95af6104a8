/**
 * kmod's own view of module files: `modprobe --dump-modversions FILE` and `modprobe --show-exports FILE`
 * stdout, gathered in batches (one bash per batch of files, a bounded number of batches at a time)
 * instead of one child process per call.
 */
import { spawn, spawnSync } from "node:child_process";
import { closeSync, openSync, readSync } from "node:fs";
import { availableParallelism } from "node:os";

export interface KmodOutput {
  /** `modprobe --dump-modversions` stdout and exit status. */
  modversions: string;
  modversionsStatus: number;
  /** `modprobe --show-exports` stdout and exit status. */
  exports: string;
  exportsStatus: number;
}

/** Whether kmod's modprobe is installed and prints `--dump-modversions`. */
export function haveModprobe(): boolean {
  const r = spawnSync("modprobe", ["--version"], { encoding: "utf8" });
  return r.status === 0 && /kmod version/.test(r.stdout);
}

/** kmod's compile-time features (`+XZ -ZLIB ...`). */
export function modprobeFeatures(): Set<string> {
  const r = spawnSync("modprobe", ["--version"], { encoding: "utf8" });
  return new Set(r.stdout.split(/\s+/).filter((w) => /^[+-][A-Z]+$/.test(w)));
}

function isGzip(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const b = Buffer.alloc(2);
    return readSync(fd, b, 0, 2, 0) === 2 && b[0] === 0x1f && b[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

const MARK = "@@kabi-kmod-9f3c1e@@";

// For each file: both modprobe calls, each preceded by a marker line and followed by its status.
// Files tagged "gz:" are gunzipped to a temporary file first, for a kmod built without zlib (-ZLIB):
// modprobe then reads exactly the bytes the .ko.gz holds.
const SCRIPT = `
M=${MARK}
T=$(mktemp --suffix=.ko) || exit 1
trap 'rm -f "$T"' EXIT
i=0
for f; do
  case "$f" in gz:*) gzip -dc -- "\${f#gz:}" > "$T" 2>/dev/null; f="$T" ;; esac
  printf '\\n%s %s V\\n' "$M" "$i"
  modprobe --dump-modversions "$f" 2>/dev/null
  printf '\\n%s %s rc %s\\n' "$M" "$i" "$?"
  printf '\\n%s %s E\\n' "$M" "$i"
  modprobe --show-exports "$f" 2>/dev/null
  printf '\\n%s %s rc %s\\n' "$M" "$i" "$?"
  i=$((i+1))
done
`;

function runBatch(files: readonly string[], gunzip: boolean): Promise<KmodOutput[]> {
  const args = files.map((f) => (gunzip && isGzip(f) ? `gz:${f}` : f));
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", SCRIPT, "kmod-batch", ...args], { stdio: ["ignore", "pipe", "inherit"] });
    const parts: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => parts.push(c));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`kmod batch exited with ${code}`));
      try {
        resolve(parseBatch(Buffer.concat(parts).toString("latin1"), files.length));
      } catch (err) {
        reject(err);
      }
    });
  });
}

/** Splits a batch's stdout at the marker lines. Each marker is preceded by a '\n' we added ourselves. */
function parseBatch(text: string, count: number): KmodOutput[] {
  const out: KmodOutput[] = Array.from({ length: count }, () => ({ modversions: "", modversionsStatus: -1, exports: "", exportsStatus: -1 }));
  const pieces = text.split(`\n${MARK} `);
  // pieces[0] is the empty text before the first marker.
  for (let k = 1; k < pieces.length; k++) {
    const piece = pieces[k]!;
    const nl = piece.indexOf("\n");
    const head = (nl < 0 ? piece : piece.slice(0, nl)).split(" ");
    const body = nl < 0 ? "" : piece.slice(nl + 1);
    const i = Number(head[0]);
    const rec = out[i];
    if (rec === undefined) throw new Error(`kmod batch: bad marker ${head.join(" ")}`);
    if (head[1] === "V") rec.modversions = body;
    else if (head[1] === "E") rec.exports = body;
    else if (head[1] === "rc") {
      if (rec.modversionsStatus < 0) rec.modversionsStatus = Number(head[2]);
      else rec.exportsStatus = Number(head[2]);
    }
  }
  return out;
}

export interface KmodOptions {
  /** Batches run at once; default min(2, cores). */
  parallel?: number;
  batchSize?: number;
  /** gunzip .gz files before handing them to modprobe (for a kmod built -ZLIB). Default: when kmod lacks ZLIB. */
  gunzip?: boolean;
}

/** kmod's output for every file, in the order given. */
export async function kmodListings(files: readonly string[], options: KmodOptions = {}): Promise<KmodOutput[]> {
  const parallel = options.parallel ?? Math.min(2, availableParallelism());
  const batchSize = options.batchSize ?? 64;
  const gunzip = options.gunzip ?? !modprobeFeatures().has("+ZLIB");
  const batches: (readonly string[])[] = [];
  for (let i = 0; i < files.length; i += batchSize) batches.push(files.slice(i, i + batchSize));
  const results: KmodOutput[][] = new Array(batches.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches.length) {
      const b = next++;
      results[b] = await runBatch(batches[b]!, gunzip);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, batches.length)) }, worker));
  return results.flat();
}
