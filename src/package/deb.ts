import { loadCodec } from "../decompress/codec-table.js";
import { DecodeError, type CodecName } from "../types/compression.js";
import { FormatError } from "../types/errors.js";
import { readAr, type ArMember } from "./ar.js";
import type { ByteSource } from "./byte-source.js";
import { asPackageError, VisitorFailure, type PackageInfo, type PackageMember, type PackageVisitor } from "./package-member.js";
import { readTar } from "./tar.js";

/** The compressions dpkg-deb writes for control.tar and data.tar, by member name suffix; "" is a plain tar. */
const TAR_SUFFIXES: Readonly<Record<string, CodecName | null>> = { "": null, ".gz": "gzip", ".xz": "xz", ".zst": "zstd" };

/** The control file is a few KB; this bounds what is read of it. */
const MAX_CONTROL_SIZE = 1024 * 1024;

/**
 * Reads a Debian binary package (deb(5)): an ar archive of "debian-binary" ("2.x\n"), then
 * control.tar[.gz|.xz|.zst] (its "control" file gives PackageInfo), then data.tar[.gz|.xz|.zst]
 * whose members are visited, streamed through the decompressor. Members named "_*" (dpkg's
 * rule for additions) are skipped before data.tar, and nothing after data.tar is read.
 */
export async function readDeb(source: ByteSource, visit: PackageVisitor, maxMemberSize: number, problems: string[]): Promise<PackageInfo> {
  const file = source.file;
  const info: PackageInfo = { format: "deb", name: null, version: null, arch: null };
  type Stage = "debian-binary" | "control" | "data" | "done";
  let stage = "debian-binary" as Stage;
  await readAr(source, async (member) => {
    const end = member.dataOffset + member.size;
    if (stage === "debian-binary") {
      if (member.name !== "debian-binary") throw new FormatError(file, `not a Debian package (first ar member is ${JSON.stringify(member.name)}, not "debian-binary")`, member.headerOffset);
      if (member.size > 64) throw new FormatError(file, `debian-binary: ${member.size} bytes, not a format version`, member.headerOffset);
      const version = (await source.read(member.size, "debian-binary")).toString("latin1");
      if (!/^2\.\d+\n/.test(version)) throw new FormatError(file, `debian-binary: unsupported deb format version ${JSON.stringify(version)}`, member.dataOffset);
      stage = "control";
      return true;
    }
    if (member.name.startsWith("_")) return true;
    if (stage === "control") {
      const codec = tarCodec(file, member, "control.tar");
      const control = await readControl(source, member, codec, end);
      info.name = control.get("Package") ?? null;
      info.version = control.get("Version") ?? null;
      info.arch = control.get("Architecture") ?? null;
      stage = "data";
      return true;
    }
    const codec = tarCodec(file, member, "data.tar");
    await readTar(await payload(source, member, codec, end), { file, part: member.name }, info, visit, { maxMemberSize, problems });
    stage = "done";
    return false;
  });
  const reached: Stage = stage;
  if (reached !== "done") throw new FormatError(file, reached === "debian-binary" ? "empty ar archive (no debian-binary member)" : `no ${reached === "control" ? "control.tar" : "data.tar"} member`, source.offset);
  return info;
}

function tarCodec(file: string, member: ArMember, base: "control.tar" | "data.tar"): CodecName | null {
  const suffix = member.name.startsWith(base) ? member.name.slice(base.length) : null;
  if (suffix === null || !(suffix in TAR_SUFFIXES)) {
    throw new FormatError(file, `ar member ${JSON.stringify(member.name)} where ${base}[.gz|.xz|.zst] was expected`, member.headerOffset);
  }
  return TAR_SUFFIXES[suffix]!;
}

/** A member's bytes, decompressed as they are read when `codec` says so; a DecodeError becomes a FormatError naming the member. */
async function payload(source: ByteSource, member: ArMember, codec: CodecName | null, end: number): Promise<AsyncIterable<Uint8Array>> {
  const raw = source.take(end, `ar member ${member.name}`);
  if (codec === null) return raw;
  const decoder = await loadCodec(codec);
  const file = source.file;
  return (async function* () {
    try {
      yield* decoder.stream(raw);
    } catch (err) {
      throw err instanceof DecodeError ? new FormatError(file, `${member.name}: ${err.message}`) : err;
    }
  })();
}

async function readControl(source: ByteSource, member: ArMember, codec: CodecName | null, end: number): Promise<Map<string, string>> {
  const file = source.file;
  let text: string | null = null;
  const problems: string[] = [];
  const info: PackageInfo = { format: "deb", name: null, version: null, arch: null };
  await readTar(
    await payload(source, member, codec, end),
    { file, part: member.name },
    info,
    async (m: PackageMember) => {
      if (m.path !== "control" || m.type !== "file") return;
      text = (await m.bytes()).toString("utf8");
    },
    { maxMemberSize: MAX_CONTROL_SIZE, problems },
  ).catch((err: unknown) => {
    throw err instanceof VisitorFailure ? asPackageError(file, member.name, err.error) : err;
  });
  if (text === null) throw new FormatError(file, `${member.name}: no control file`);
  return parseControl(text);
}

/** The fields of a deb control paragraph (deb-control(5)): "Name: value", continuation lines indented. */
export function parseControl(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  let current: string | null = null;
  for (const line of text.split("\n")) {
    if (line === "") {
      if (fields.size > 0) break;
      continue;
    }
    if (/^[ \t]/.test(line)) {
      if (current !== null) fields.set(current, `${fields.get(current)!}\n${line.trim()}`);
      continue;
    }
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    current = line.slice(0, colon).trim();
    fields.set(current, line.slice(colon + 1).trim());
  }
  return fields;
}
